// The manager: a process whose main loop serves shared objects to proxies.
//
// Server. The manager process's main thread runs an event loop (io's
// event_loop, as every server of the library) over a listening Unix socket
// in a private 0700 directory and every client connection. Values are kept as the bytes the client encoded; the manager
// never decodes user types. Blocking calls (acquire, wait) park the request
// until it can be answered or its timeout, which the manager keeps, passes.
// A process's connections closing means it died or is exiting: the locks it
// held are released and the next acquirer is told (owner_died).
//
// Wire: see manager/protocol.hpp.

#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/manager.hpp>
#include <actors/pipe.hpp>
#include <actors/process.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "io/transport.hpp"
#include "runtime/runtime.hpp"
#include "io/wire.hpp"
#include "manager/protocol.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>

namespace actors::detail {

namespace {

using clock = std::chrono::steady_clock;

struct mconn;

struct waiter {
  mconn* c;
  int pid;
  std::uint64_t tid;
  clock::time_point deadline;
};

struct object {
  mkind kind = mkind::dict;
  // dict: insertion order, and an index by encoded key
  std::list<std::pair<std::string, std::string>> entries;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index;
  // list
  std::vector<std::string> items;
  // lock
  int holder_pid = 0;
  std::uint64_t holder_tid = 0;
  int count = 0;
  bool died = false;
  // event
  bool is_set = false;
  std::deque<waiter> waiters;
  // queue
  std::shared_ptr<queue_client> queue;
};

struct mconn {
  unique_fd fd;
  int pid = 0;
  inbuf in;
  outbox out;
  bool eof = false;
};

// A request that cannot be served: answered with an error, the manager goes on.
struct refusal {
  errc code;
  std::string message;
};

class manager_server {
public:
  manager_server() : loop_(nullptr, -1, nullptr, true) {}
  const std::string& path() const noexcept { return server_.path(); }
  const std::string& dir() const noexcept { return server_.dir(); }
  void run();

private:
  void accept_all();
  void on_events(int fd, std::uint32_t events);
  void park(object& o, mconn& c, std::uint64_t tid, clock::time_point deadline);
  void expire();
  void flush_replies();
  bool handle(mconn& c, const char* p, std::size_t size);
  void serve(mconn& c, mop op, object& o, std::uint64_t tid, clock::time_point deadline,
             const char* args, std::size_t size);
  void reply(mconn& c, status s, const std::string& body = {});
  void grant(object& o);
  void drop(mconn& c);
  object& find(std::uint32_t id);

  private_server server_{"manager"};
  std::unordered_map<int, std::unique_ptr<mconn>> conns_;
  std::unordered_map<std::uint32_t, object> objects_;
  std::unordered_map<int, int> conns_of_pid_;
  std::uint32_t next_id_ = 1;
  bool stopping_ = false;
  // Busy-polls before sleeping (set_busy_poll, as the transport's loops): a
  // client's next request usually follows its reply within microseconds,
  // and waking a sleeping process costs more than that.
  event_loop loop_;
  std::vector<int> replied_; // connections with replies to send
};


object& manager_server::find(std::uint32_t id) {
  auto it = objects_.find(id);
  if (it == objects_.end())
    throw refusal{errc::bad_argument, "no managed object " + std::to_string(id)};
  return it->second;
}

void manager_server::reply(mconn& c, status s, const std::string& body) {
  if (c.out.empty())
    replied_.push_back(c.fd.get());
  c.out.frame(s, {}, body);
}

void manager_server::run() {
  loop_.watch(server_.fd(), EPOLLIN, [this](std::uint32_t) { accept_all(); });
  loop_.run_here();
}

void manager_server::accept_all() {
  int pid = 0;
  while (auto fd = accept_same_user(server_.fd(), pid, "manager")) {
    auto c = std::make_unique<mconn>();
    c->fd = std::move(fd);
    c->pid = pid;
    ++conns_of_pid_[pid];
    int at = c->fd.get();
    conns_[at] = std::move(c);
    loop_.watch(at, EPOLLIN, [this, at](std::uint32_t events) { on_events(at, events); });
  }
}

void manager_server::on_events(int fd, std::uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end())
    return;
  auto& c = *it->second;
  if (events & EPOLLOUT)
    replied_.push_back(fd);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (!c.in.read_available(fd))
      c.eof = true;
    auto problem = frames_problem(c.in, [&](const char* p, std::size_t size) {
      return handle(c, p, size);
    }, "a malformed request");
    if (!problem.empty()) {
      log::error() << "manager: closing the connection of pid " << c.pid << " after "
                   << problem;
      c.eof = true;
    }
  }
  flush_replies();
  if (c.eof)
    drop(c);
  if (stopping_)
    loop_.quit(); // the shutdown's answer went out above
}

// A request that waits (acquire, event wait) until it is served or its
// timeout passes.
void manager_server::park(object& o, mconn& c, std::uint64_t tid, clock::time_point deadline) {
  o.waiters.push_back({&c, c.pid, tid, deadline});
  if (deadline != clock::time_point::max())
    loop_.at(deadline, [this] {
      expire();
      flush_replies();
    });
}

void manager_server::expire() {
  auto now = clock::now();
  for (auto& [id, o] : objects_)
    for (auto it = o.waiters.begin(); it != o.waiters.end();) {
      if (it->deadline > now) {
        ++it;
        continue;
      }
      reply(*it->c, st_timed_out);
      it = o.waiters.erase(it);
    }
}

// Sends every reply written since the last call: to the connection that
// asked, and to those a release or a set woke.
void manager_server::flush_replies() {
  auto fds = std::move(replied_);
  replied_.clear();
  for (int fd : fds) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
      continue;
    auto& c = *it->second;
    if (!c.out.send(fd))
      c.eof = true; // the read side sees the end too
    loop_.rewatch(fd, EPOLLIN | (c.out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT)));
  }
}

bool manager_server::handle(mconn& c, const char* p, std::size_t size) {
  constexpr std::size_t head = 1 + 4 + 8 + 8;
  if (size < head)
    return false;
  auto op = static_cast<mop>(take<std::uint8_t>(p));
  auto id = take<std::uint32_t>(p);
  auto tid = take<std::uint64_t>(p);
  auto timeout_ns = take<std::int64_t>(p);
  auto deadline = timeout_ns < 0 ? clock::time_point::max()
                                 : clock::now() + std::chrono::nanoseconds(timeout_ns);
  try {
    if (id == 0) {
      if (op == mop::shutdown) {
        stopping_ = true;
        reply(c, st_ok);
        return true;
      }
      if (op == mop::queue) { // served by this process's node, kept alive here
        auto [maxsize] = decode<std::tuple<std::uint64_t>>(p, size - head);
        auto& o = objects_[next_id_++];
        o.kind = mkind::queue;
        o.queue = create_queue(maxsize, false);
        reply(c, st_ok, encode(address_of(*o.queue)));
        return true;
      }
      if (op != mop::create || size < head + 1)
        throw refusal{errc::bad_argument, "unknown manager request"};
      auto kind = static_cast<mkind>(p[0]);
      auto new_id = next_id_++;
      auto& o = objects_[new_id];
      o.kind = kind;
      reply(c, st_ok, encode(new_id));
      return true;
    }
    serve(c, op, find(id), tid, deadline, p, size - head);
  } catch (const refusal& r) {
    reply(c, st_error, encode(std::make_pair(static_cast<int>(r.code), r.message)));
  } catch (const error& e) {
    reply(c, st_error, encode(std::make_pair(static_cast<int>(e.value()), std::string(e.what()))));
  }
  return true;
}

// Python-style index: negative counts from the end.
std::size_t index_of(std::int64_t i, std::size_t size, bool allow_end) {
  auto n = static_cast<std::int64_t>(size);
  if (i < 0)
    i += n;
  if (i < 0 || i > n || (i == n && !allow_end))
    throw refusal{errc::key_error, "managed_list: index out of range"};
  return static_cast<std::size_t>(i);
}

// A Python slice bound (and insert position): negative counts from the end,
// then clamped to [0, size] instead of raising.
std::size_t clamped_index(std::int64_t i, std::size_t size) {
  auto n = static_cast<std::int64_t>(size);
  return static_cast<std::size_t>(std::clamp<std::int64_t>(i < 0 ? i + n : i, 0, n));
}

// d[k] = v: replaces in place, or appends in insertion order.
void dict_set(object& o, std::string k, std::string v) {
  auto it = o.index.find(k);
  if (it != o.index.end()) {
    it->second->second = std::move(v);
    return;
  }
  o.entries.emplace_back(k, std::move(v));
  o.index.emplace(std::move(k), std::prev(o.entries.end()));
}

void manager_server::serve(mconn& c, mop op, object& o, std::uint64_t tid,
                           clock::time_point deadline, const char* args, std::size_t size) {
  using key_t = std::tuple<std::string>;
  using kv_t = std::tuple<std::string, std::string>;
  using ix_t = std::tuple<std::int64_t>;
  using ixv_t = std::tuple<std::int64_t, std::string>;
  switch (op) {
    case mop::set: {
      auto [k, v] = decode<kv_t>(args, size);
      dict_set(o, std::move(k), std::move(v));
      return reply(c, st_ok);
    }
    case mop::update: {
      auto [kvs] = decode<std::tuple<std::vector<std::pair<std::string, std::string>>>>(args, size);
      for (auto& [k, v] : kvs)
        dict_set(o, std::move(k), std::move(v));
      return reply(c, st_ok);
    }
    case mop::popitem: {
      // Python's popitem(): the item inserted last.
      std::optional<std::pair<std::string, std::string>> kv;
      if (!o.entries.empty()) {
        kv = std::move(o.entries.back());
        o.index.erase(kv->first);
        o.entries.pop_back();
      }
      return reply(c, st_ok, encode(kv));
    }
    case mop::get:
    case mop::pop: {
      auto [k] = decode<key_t>(args, size);
      auto it = o.index.find(k);
      std::optional<std::string> v;
      if (it != o.index.end()) {
        v = it->second->second;
        if (op == mop::pop) {
          o.entries.erase(it->second);
          o.index.erase(it);
        }
      }
      return reply(c, st_ok, encode(v));
    }
    case mop::contains: {
      auto [k] = decode<key_t>(args, size);
      if (o.kind == mkind::list)
        return reply(c, st_ok,
                     encode(std::find(o.items.begin(), o.items.end(), k) != o.items.end()));
      return reply(c, st_ok, encode(o.index.count(k) > 0));
    }
    case mop::erase: {
      auto [k] = decode<key_t>(args, size);
      auto it = o.index.find(k);
      bool found = it != o.index.end();
      if (found) {
        o.entries.erase(it->second);
        o.index.erase(it);
      }
      return reply(c, st_ok, encode(found));
    }
    case mop::setdefault: {
      auto [k, v] = decode<kv_t>(args, size);
      auto it = o.index.find(k);
      if (it == o.index.end()) {
        o.entries.emplace_back(k, v);
        it = o.index.emplace(std::move(k), std::prev(o.entries.end())).first;
      }
      return reply(c, st_ok, encode(it->second->second));
    }
    case mop::size:
      return reply(c, st_ok,
                   encode(static_cast<std::uint64_t>(o.kind == mkind::list ? o.items.size()
                                                                           : o.entries.size())));
    case mop::clear:
      o.entries.clear();
      o.index.clear();
      o.items.clear();
      return reply(c, st_ok);
    case mop::items:
      if (o.kind == mkind::list)
        return reply(c, st_ok, encode(o.items));
      return reply(c, st_ok, encode(std::vector<std::pair<std::string, std::string>>(
                                o.entries.begin(), o.entries.end())));
    case mop::append: {
      auto [v] = decode<key_t>(args, size);
      o.items.push_back(std::move(v));
      return reply(c, st_ok);
    }
    case mop::extend: {
      auto [vs] = decode<std::tuple<std::vector<std::string>>>(args, size);
      for (auto& v : vs)
        o.items.push_back(std::move(v));
      return reply(c, st_ok);
    }
    case mop::at: {
      auto [i] = decode<ix_t>(args, size);
      return reply(c, st_ok, encode(o.items[index_of(i, o.items.size(), false)]));
    }
    case mop::assign: {
      auto [i, v] = decode<ixv_t>(args, size);
      o.items[index_of(i, o.items.size(), false)] = std::move(v);
      return reply(c, st_ok);
    }
    case mop::insert: {
      auto [i, v] = decode<ixv_t>(args, size);
      // Python clamps insert positions instead of raising.
      auto at = clamped_index(i, o.items.size());
      o.items.insert(o.items.begin() + static_cast<long>(at), std::move(v));
      return reply(c, st_ok);
    }
    case mop::count: {
      auto [v] = decode<key_t>(args, size);
      return reply(c, st_ok, encode(static_cast<std::uint64_t>(
                               std::count(o.items.begin(), o.items.end(), v))));
    }
    case mop::index: {
      auto [v, start, stop] = decode<std::tuple<std::string, std::int64_t, std::int64_t>>(args, size);
      auto from = o.items.begin() + static_cast<long>(clamped_index(start, o.items.size()));
      auto to = o.items.begin() + static_cast<long>(clamped_index(stop, o.items.size()));
      auto it = from < to ? std::find(from, to, v) : to;
      if (it == to)
        throw refusal{errc::key_error, "managed_list::index: the value is not in the list"};
      return reply(c, st_ok, encode(static_cast<std::uint64_t>(it - o.items.begin())));
    }
    case mop::remove: {
      auto [v] = decode<key_t>(args, size);
      auto it = std::find(o.items.begin(), o.items.end(), v);
      if (it == o.items.end())
        throw refusal{errc::key_error, "managed_list::remove: the value is not in the list"};
      o.items.erase(it);
      return reply(c, st_ok);
    }
    case mop::reverse:
      std::reverse(o.items.begin(), o.items.end());
      return reply(c, st_ok);
    case mop::slice:
    case mop::erase_slice: {
      auto [start, stop] = decode<std::tuple<std::int64_t, std::int64_t>>(args, size);
      auto from = o.items.begin() + static_cast<long>(clamped_index(start, o.items.size()));
      auto to = std::max(from, o.items.begin() + static_cast<long>(clamped_index(stop, o.items.size())));
      if (op == mop::slice)
        return reply(c, st_ok, encode(std::vector<std::string>(from, to)));
      o.items.erase(from, to);
      return reply(c, st_ok);
    }
    case mop::repeat: {
      auto [n] = decode<ix_t>(args, size);
      if (n <= 0)
        o.items.clear();
      if (n <= 1 || o.items.empty())
        return reply(c, st_ok);
      auto once = o.items.size();
      // Each item takes a byte at least, so more would never fit a reply.
      if (once > frame_cap() / static_cast<std::uint64_t>(n))
        throw refusal{errc::bad_argument, "managed_list::repeat: " + std::to_string(n)
                                            + " copies of " + std::to_string(once)
                                            + " items would not fit in one message"};
      o.items.reserve(once * static_cast<std::size_t>(n));
      for (std::int64_t copy = 1; copy < n; ++copy)
        for (std::size_t i = 0; i < once; ++i)
          o.items.push_back(o.items[i]);
      return reply(c, st_ok);
    }
    case mop::pop_at: {
      auto [i] = decode<ix_t>(args, size);
      if (o.items.empty())
        throw refusal{errc::key_error, "managed_list::pop: the list is empty"};
      auto at = index_of(i, o.items.size(), false);
      auto v = std::move(o.items[at]);
      o.items.erase(o.items.begin() + static_cast<long>(at));
      return reply(c, st_ok, encode(v));
    }
    case mop::acquire: {
      auto [blocking] = decode<std::tuple<bool>>(args, size);
      bool mine = o.holder_pid == c.pid && o.holder_tid == tid;
      if (o.count > 0 && mine && o.kind == mkind::rlock) {
        ++o.count;
        return reply(c, st_ok);
      }
      if (!blocking && (o.count > 0 || !o.waiters.empty()))
        return reply(c, st_timed_out);
      park(o, c, tid, deadline);
      return grant(o);
    }
    case mop::release: {
      if (o.count == 0 || o.holder_pid != c.pid || o.holder_tid != tid)
        throw refusal{errc::not_owner,
                      o.count == 0 ? "release of a managed lock that is not held"
                                   : "release of a managed lock held by another thread or "
                                     "process (pid " + std::to_string(o.holder_pid) + ")"};
      if (--o.count == 0)
        o.holder_pid = 0;
      reply(c, st_ok);
      return grant(o);
    }
    case mop::locked:
      return reply(c, st_ok, encode(o.count > 0));
    case mop::ev_set:
      o.is_set = true;
      for (auto& w : o.waiters)
        reply(*w.c, st_ok);
      o.waiters.clear();
      return reply(c, st_ok);
    case mop::ev_clear:
      o.is_set = false;
      return reply(c, st_ok);
    case mop::ev_is_set:
      return reply(c, st_ok, encode(o.is_set));
    case mop::ev_wait:
      if (o.is_set)
        return reply(c, st_ok);
      return park(o, c, tid, deadline);
    default:
      throw refusal{errc::bad_argument, "unknown request for a managed object"};
  }
}

// Hands a free lock to the first waiter.
void manager_server::grant(object& o) {
  while (o.count == 0 && !o.waiters.empty()) {
    auto w = o.waiters.front();
    o.waiters.pop_front();
    o.holder_pid = w.pid;
    o.holder_tid = w.tid;
    o.count = 1;
    reply(*w.c, std::exchange(o.died, false) ? st_owner_died : st_ok);
  }
}

void manager_server::drop(mconn& c) {
  int pid = c.pid;
  for (auto& [id, o] : objects_) {
    o.waiters.erase(std::remove_if(o.waiters.begin(), o.waiters.end(),
                                   [&](const waiter& w) { return w.c == &c; }),
                    o.waiters.end());
  }
  if (--conns_of_pid_[pid] == 0) {
    conns_of_pid_.erase(pid);
    for (auto& [id, o] : objects_) { // the process is gone: so are its locks
      if ((o.kind == mkind::lock || o.kind == mkind::rlock) && o.count > 0
          && o.holder_pid == pid) {
        o.count = 0;
        o.holder_pid = 0;
        o.died = true;
        log::warning() << "manager: pid " << pid << " exited holding lock " << id
                       << "; released it";
        grant(o);
      }
    }
  }
  int fd = c.fd.get();
  loop_.unwatch(fd);
  conns_.erase(fd); // c is gone from here on
  flush_replies();  // to those the locks it held went to
}

} // namespace

/// The manager process.
void manager_main(connection<std::string> report) {
  auto& fs = require_node().ensure_forkserver();
  manager_server server; // its socket and directory go when it is destroyed
  forkserver_cleanup_on_exit(fs, server.dir()); // ... or however this process ends
  report.send(server.path());
  report.close();
  server.run();
}

} // namespace actors::detail
