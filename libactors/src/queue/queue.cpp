// Queues: a server in the node that creates them, clients everywhere else.
//
// Server. One transport thread per node runs an epoll loop over a listening
// Unix socket (in a private 0700 directory, peers checked with SO_PEERCRED)
// and every client connection. All queue state is touched only by that
// thread: it is an actor in all but name, driven by the frames it receives.
// Items are kept as the bytes the producer encoded; the server never decodes
// them. The loop reads into each connection's buffer directly, and sends the
// items of a get reply from where they are held when they are big. It does
// not busy-poll (set_busy_poll): spinning here measured slower round trips
// on a 2-core machine (16-32 us against 13-14 us for qsize()).
//
// Client. A process holds up to three connections per queue: one for puts
// (batched, with credits for bounded queues), one for gets (fetching small
// batches, acknowledging what get() returned), one for size/join requests.
// A flusher thread sends batches that are older than ~200 microseconds. An
// item of 64 KiB or more is sent as a batch of its own, from the item.
//
// Pipelining. A consumer that gets items in batches asks for the next batch
// (a nowait get, carrying its acks) when half of the current one is used;
// the server answers it at once with what it holds (at most ~256 KiB), so a
// consumer that stops calling get() strands nothing that arrives later. A
// producer on a bounded queue asks for the next window of credits (maxsize/4,
// 1 to 512) when half of its credits are used; a credit request that is not
// nowait stands at the server until all it asked for was granted, and the
// server pushes grants as room frees, without another request.
//
// Wire: frames (frame.hpp); the first payload byte is the operation.
//   client -> server                         server -> client
//   hello  u32 queue id                      -
//   put    u32 n, n x (u32 len, bytes)       -
//   credit u32 want, u8 nowait               credit u32 granted (a standing
//                                                 request: several, summing
//                                                 to want at most)
//   get    u32 max, u32 acks, u8 nowait      get u32 n, n x (u32 len, bytes)
//   cancel                                   cancelled
//   size                                     size u64 items, u64 maxsize,
//                                                 u8 shut down
//   done   u32 n                             -
//   join                                     join u8 ok, message
//   release u32 acks                         -
//     (a consumer leaving normally: `acks` items were taken, the rest of what
//      it fetched goes back to the head of the queue)
//   ack    u32 acks                          -
//     (bounded queues: get() returned `acks` items; their room frees now)
//   shutdown u8 immediate                    shutdown
//   -                                        shut_down (instead of get or
//                                            credit: nothing more comes)
//   -                                        shut_notice (unasked, once per
//                                            connection that put or asked for
//                                            room: at the shutdown, or when
//                                            it put after it; those items
//                                            were dropped)
//
// Shutdown (Python 3.13's Queue.shutdown): the queue takes no more items;
// gets are served until it is empty (or at once with `immediate`, which drops
// the items and, on a joinable queue, counts them done), then every waiting
// and later get and credit request is answered shut_down. Every producer
// connection is sent a shut_notice, which the next put() there reads before
// it buffers an item; a process whose first batch crossed the shutdown gets
// the notice in answer to that batch. A batch that crossed the shutdown is
// kept (its put()s had returned), unless the shutdown was immediate.
//
// A bounded queue counts what consumers fetched and have not acknowledged
// against maxsize, with the items it holds and the credits it granted: what
// comes back from a consumer that dies or leaves then still fits, so the
// queue never holds more than maxsize. On a bounded queue the acks of get()
// reach the server within ~200 microseconds (the flusher sends them unless a
// request carried them first), so a slot frees soon after get() returns; a
// put() that finds no credit sends this process's own acks first.

#include <actors/detail/queue_client.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/detail/stats.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/thread_name.hpp"
#include "io/frame.hpp"
#include "runtime/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace actors::detail {

namespace {

enum op : std::uint8_t {
  op_hello = 1,
  op_put = 2,
  op_credit = 3,
  op_get = 4,
  op_cancel = 5,
  op_size = 6,
  op_done = 7,
  op_join = 8,
  op_cancelled = 9,
  op_release = 10,
  op_ack = 12, // 11 is stats_request (stats.hpp)
  op_shutdown = 13,
  op_shut_down = 14,
  op_shut_notice = 15,
};

constexpr std::uint32_t max_fetch = 256;           // items per get batch
constexpr std::size_t batch_bytes = 64 * 1024;     // a put batch is sent at this size
constexpr std::uint32_t batch_items = 512;         // ... or at this many items
constexpr auto flush_delay = std::chrono::microseconds(200);
constexpr std::size_t batch_prefix = 5;             // op byte and u32 count
constexpr std::size_t reply_bytes = 256 * 1024;    // a get reply stops growing here
constexpr std::size_t big_item = 64 * 1024;        // sent on its own, not copied into a batch

// -- payload helpers -----------------------------------------------------------

void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

void put_u64(std::string& out, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}

struct reader {
  const char* p;
  const char* end;
  bool ok = true;

  // A fixed-size number, or 0 with ok cleared when too few bytes remain.
  template <class T>
  T number() {
    if (static_cast<std::size_t>(end - p) < sizeof(T)) {
      ok = false;
      return 0;
    }
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::uint32_t u32() { return number<std::uint32_t>(); }
  std::uint64_t u64() { return number<std::uint64_t>(); }
  std::uint8_t u8() { return number<std::uint8_t>(); }
  // An item: u32 length and that many bytes, checked against what remains.
  bool item(std::string& out) {
    auto n = u32();
    if (!ok || static_cast<std::size_t>(end - p) < n)
      return ok = false;
    out.assign(p, n);
    p += n;
    return true;
  }
};

void append_item(std::string& out, const std::string& item) {
  put_u32(out, static_cast<std::uint32_t>(item.size()));
  out += item;
}

// -- server ----------------------------------------------------------------------

struct queue_state;

struct server_conn {
  int fd = -1;
  int pid = 0;
  queue_state* q = nullptr;
  // Received bytes not yet handled: [in_begin, in_end) of in_buf.
  std::unique_ptr<char[]> in_buf;
  std::size_t in_cap = 0, in_begin = 0, in_end = 0;
  std::string out;
  std::size_t out_pos = 0; // sent part of `out` (erasing the front would be quadratic)
  std::deque<std::string> unacked; // fetched by the client, not yet taken
  std::uint64_t taken = 0;         // acknowledged as returned by get()
  std::uint64_t done = 0;          // task_done() count
  std::uint64_t credits = 0;       // granted, not yet used
  std::uint32_t want_get = 0;
  bool get_pending = false;
  std::uint32_t want_credit = 0;
  bool credit_pending = false;
  bool join_pending = false;
  bool putter = false;  // has put or asked for room
  bool noticed = false; // sent shut_notice
};

// Takes a connection off one of a queue's wait lists.
void withdraw(std::deque<server_conn*>& waiting, server_conn* c) {
  waiting.erase(std::remove(waiting.begin(), waiting.end(), c), waiting.end());
}

struct queue_state {
  std::uint32_t id = 0;
  std::uint64_t maxsize = 0;
  bool joinable = false;
  std::deque<std::string> items;
  std::uint64_t reserved = 0; // credits granted to producers, not yet used
  std::uint64_t in_flight = 0; // fetched by consumers, not yet acknowledged
  std::uint64_t unfinished = 0;
  std::string abandoned; // why the next join() fails, if a consumer died
  bool shut_down = false;
  bool immediate = false; // shut down dropping its items
  std::deque<server_conn*> getters, crediters, joiners;
  std::uint64_t puts = 0, gets = 0; // items in and out, for actors-top
};

// Free slots of a bounded queue (items, granted credits and fetched but
// unacknowledged items all take one); `unbounded` for a queue without maxsize.
std::uint64_t room(const queue_state& q, std::uint64_t unbounded) {
  if (q.maxsize == 0)
    return unbounded;
  auto used = q.items.size() + q.reserved + q.in_flight;
  return used >= q.maxsize ? 0 : q.maxsize - used;
}

// The first `acks` items the connection fetched were returned by get().
void take_acked(queue_state& q, server_conn& c, std::uint64_t acks) {
  acks = std::min<std::uint64_t>(acks, c.unacked.size());
  c.unacked.erase(c.unacked.begin(), c.unacked.begin() + static_cast<long>(acks));
  c.taken += acks;
  q.in_flight -= acks;
}

// Drops every item the queue holds (an immediate shutdown); a joinable queue
// counts them done.
void drop_items(queue_state& q) {
  if (q.joinable)
    q.unfinished -= std::min<std::uint64_t>(q.unfinished, q.items.size());
  q.items.clear();
}

// What the connection fetched and did not take goes back to the head of the
// queue, in order, into the room it held (and is dropped at once if the queue
// was shut down immediately).
void put_back_unacked(queue_state& q, server_conn& c) {
  for (auto it = c.unacked.rbegin(); it != c.unacked.rend(); ++it)
    q.items.push_front(std::move(*it));
  q.in_flight -= c.unacked.size();
  c.unacked.clear();
  if (q.immediate)
    drop_items(q);
}

class server {
public:
  server();
  ~server();

  queue_address create(std::uint64_t maxsize, bool joinable);
  const std::string& directory() const noexcept { return server_.dir(); }
  void stop() noexcept;
  void forget_after_fork() noexcept;

private:
  void run();
  void accept_all();
  void on_readable(server_conn& c);
  bool handle(server_conn& c, const char* data, std::size_t size);
  void send(server_conn& c, const std::string& payload);
  void sendv(server_conn& c, iovec* iov, std::size_t count);
  void send_items(server_conn& c, std::uint32_t n);
  void flush_out(server_conn& c);
  void drop(server_conn& c);
  void serve(queue_state& q);
  void fail_joiners(queue_state& q);

  private_server server_{"node"}; // the node's control endpoint too
  int epoll_ = -1;
  int wake_ = -1;
  std::thread thread_;
  std::mutex mtx_; // guards queues_ creation against the loop's lookups
  std::unordered_map<std::uint32_t, std::unique_ptr<queue_state>> queues_;
  std::uint32_t next_id_ = 1;
  std::unordered_map<int, std::unique_ptr<server_conn>> conns_;
  std::string scratch_;       // a get reply's small parts
  std::vector<iovec> iov_;    // ... and where its parts are
};

server::server() {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = server_.fd();
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, server_.fd(), &ev);
  ev.data.fd = wake_;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
  thread_ = std::thread([this] {
    name_this_thread("actors.queue");
    run();
  });
}

server::~server() {
  stop();
}

queue_address server::create(std::uint64_t maxsize, bool joinable) {
  auto q = std::make_unique<queue_state>();
  q->maxsize = maxsize;
  q->joinable = joinable;
  std::lock_guard<std::mutex> guard(mtx_);
  q->id = next_id_++;
  queue_address a{server_.path(), q->id, maxsize, joinable, ::getpid()};
  queues_[q->id] = std::move(q);
  return a;
}

void server::stop() noexcept {
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    (void) !::write(wake_, &one, sizeof one);
    thread_.join();
  }
  for (auto& [fd, c] : conns_)
    ::close(fd);
  conns_.clear();
  for (int fd : {epoll_, wake_})
    if (fd >= 0)
      ::close(fd);
  epoll_ = wake_ = -1;
  server_.close();
}

void server::forget_after_fork() noexcept {
  // The loop thread does not exist in a fork()ed child; close our copies of
  // its descriptors so the parent's clients still see the parent's server.
  for (auto& [fd, c] : conns_)
    ::close(fd);
  for (int fd : {epoll_, wake_})
    if (fd >= 0)
      ::close(fd);
  server_.forget(); // the directory belongs to the parent
}

void server::run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_, events, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return;
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_)
        return;
      if (fd == server_.fd()) {
        accept_all();
        continue;
      }
      auto it = conns_.find(fd);
      if (it == conns_.end())
        continue;
      auto& c = *it->second;
      if (events[i].events & EPOLLOUT)
        flush_out(c);
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(c); // may drop c
    }
  }
}

void server::accept_all() {
  int pid = 0;
  while (auto fd = accept_same_user(server_.fd(), pid, "queue server")) {
    auto c = std::make_unique<server_conn>();
    c->fd = fd.release();
    c->pid = pid;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c->fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
    conns_[c->fd] = std::move(c);
  }
}

void server::on_readable(server_conn& c) {
  // Reads straight into the connection's buffer (no bounce through the
  // stack); a frame bigger than the buffer grows it once to the frame's size.
  bool eof = false;
  for (;;) {
    if (c.in_begin == c.in_end)
      c.in_begin = c.in_end = 0;
    std::size_t need = 64 * 1024;
    if (c.in_end - c.in_begin >= frame_header_size) {
      std::string why;
      auto h = parse_header(c.in_buf.get() + c.in_begin, frame_cap(), why);
      if (h && frame_header_size + h->size > c.in_end - c.in_begin)
        need = std::max<std::size_t>(need, frame_header_size + h->size - (c.in_end - c.in_begin));
    }
    if (c.in_cap - c.in_end < need) {
      auto held = c.in_end - c.in_begin;
      if (c.in_cap < held + need) {
        auto cap = std::max(held + need, 2 * c.in_cap);
        std::unique_ptr<char[]> grown(new char[cap]);
        std::memcpy(grown.get(), c.in_buf.get() + c.in_begin, held);
        c.in_buf = std::move(grown);
        c.in_cap = cap;
      } else {
        std::memmove(c.in_buf.get(), c.in_buf.get() + c.in_begin, held);
      }
      c.in_begin = 0;
      c.in_end = held;
    }
    auto room = c.in_cap - c.in_end;
    auto n = ::read(c.fd, c.in_buf.get() + c.in_end, room);
    if (n > 0) {
      c.in_end += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < room)
        break;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    eof = true;
    break;
  }
  while (c.in_end - c.in_begin >= frame_header_size) {
    std::string why;
    const char* at = c.in_buf.get() + c.in_begin;
    auto h = parse_header(at, frame_cap(), why);
    if (!h || h->fds != 0) {
      log::error() << "queue server: closing the connection of pid " << c.pid
                   << " after a bad frame: " << (h ? "unexpected descriptors" : why);
      drop(c);
      return;
    }
    if (c.in_end - c.in_begin - frame_header_size < h->size)
      break;
    c.in_begin += frame_header_size + h->size;
    if (!handle(c, at + frame_header_size, h->size)) {
      log::error() << "queue server: closing the connection of pid " << c.pid
                   << " after a malformed request";
      drop(c);
      return;
    }
  }
  if (eof)
    drop(c);
}

bool server::handle(server_conn& c, const char* data, std::size_t size) {
  reader r{data, data + size};
  auto code = r.u8();
  if (code == stats_request && !c.q) { // actors-top asks (control endpoint)
    node_stats s;
    try {
      s = collect_stats();
    } catch (const std::exception& e) {
      log::warning() << "queue server: stats: " << e.what();
    }
    std::lock_guard<std::mutex> guard(mtx_);
    for (auto& [id, q] : queues_) {
      queue_stats qs;
      qs.id = id;
      qs.items = q->items.size();
      qs.maxsize = q->maxsize;
      qs.puts = q->puts;
      qs.gets = q->gets;
      qs.waiting_getters = static_cast<std::uint32_t>(q->getters.size());
      qs.waiting_putters = static_cast<std::uint32_t>(q->crediters.size());
      for (auto& [fd, other] : conns_)
        qs.connections += other->q == q.get() ? 1 : 0;
      s.queues.push_back(qs);
    }
    std::string reply(1, static_cast<char>(stats_request));
    reply += encode(s);
    send(c, reply);
    return true;
  }
  if (code == op_hello) {
    auto id = r.u32();
    std::lock_guard<std::mutex> guard(mtx_);
    auto it = queues_.find(id);
    if (!r.ok || it == queues_.end() || c.q)
      return false;
    c.q = it->second.get();
    return true;
  }
  if (!c.q)
    return false;
  auto& q = *c.q;
  switch (code) {
    case op_put: {
      c.putter = true;
      auto n = r.u32();
      for (std::uint32_t i = 0; r.ok && i < n; ++i) {
        std::string item;
        if (!r.item(item))
          return false;
        if (q.immediate)
          continue; // the queue was emptied for good: dropped
        q.items.push_back(std::move(item));
        ++q.puts;
      }
      if (!r.ok)
        return false;
      auto used = std::min<std::uint64_t>(n, c.credits);
      c.credits -= used;
      q.reserved -= used;
      // A batch that crossed a (not immediate) shutdown is kept: its put()s
      // returned before this producer could know, and it sends at most this
      // one batch before it reads the notice.
      if (q.shut_down && !std::exchange(c.noticed, true))
        send(c, std::string(1, static_cast<char>(op_shut_notice)));
      if (q.immediate)
        break;
      if (q.joinable)
        q.unfinished += n;
      break;
    }
    case op_shutdown: {
      auto immediate = r.u8();
      if (!r.ok)
        return false;
      q.shut_down = true;
      if (immediate) {
        q.immediate = true;
        drop_items(q);
      }
      // Producers hear of it before shutdown() returns, so their next put()
      // throws (the notice waits in their socket for it).
      for (auto& [fd, other] : conns_)
        if (other->q == &q && other->putter && !std::exchange(other->noticed, true))
          send(*other, std::string(1, static_cast<char>(op_shut_notice)));
      send(c, std::string(1, static_cast<char>(op_shutdown)));
      break;
    }
    case op_credit: {
      c.putter = true;
      c.want_credit = r.u32();
      c.credit_pending = true;
      bool nowait = r.u8();
      if (nowait) // answered once, with the room there is now
        c.want_credit = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(c.want_credit, std::max<std::uint64_t>(1, room(q, c.want_credit))));
      if (nowait && room(q, 1) == 0 && !q.shut_down) {
        c.credit_pending = false; // nowait on a full queue: none, at once
        std::string reply(1, static_cast<char>(op_credit));
        put_u32(reply, 0);
        send(c, reply);
      } else {
        q.crediters.push_back(&c);
      }
      break;
    }
    case op_get: {
      c.want_get = std::max<std::uint32_t>(1, std::min(r.u32(), max_fetch));
      auto acks = r.u32();
      auto nowait = r.u8();
      if (!r.ok)
        return false;
      take_acked(q, c, acks);
      c.get_pending = true;
      if (nowait && q.items.empty() && !q.shut_down) {
        c.get_pending = false;
        std::string reply(1, static_cast<char>(op_get));
        put_u32(reply, 0);
        send(c, reply);
      } else {
        q.getters.push_back(&c);
      }
      break;
    }
    case op_cancel: {
      // A pending get or credit request is answered with nothing; a join is
      // just forgotten. Then "cancelled" closes the exchange.
      auto answer_empty = [&](bool& pending, std::deque<server_conn*>& waiting, op code) {
        if (!std::exchange(pending, false))
          return;
        withdraw(waiting, &c);
        std::string reply(1, static_cast<char>(code));
        put_u32(reply, 0);
        send(c, reply);
      };
      answer_empty(c.get_pending, q.getters, op_get);
      answer_empty(c.credit_pending, q.crediters, op_credit);
      if (std::exchange(c.join_pending, false))
        withdraw(q.joiners, &c);
      send(c, std::string(1, static_cast<char>(op_cancelled)));
      break;
    }
    case op_size: {
      std::string reply(1, static_cast<char>(op_size));
      put_u64(reply, q.items.size());
      put_u64(reply, q.maxsize);
      reply += q.shut_down ? '\1' : '\0';
      send(c, reply);
      break;
    }
    case op_done: {
      auto n = r.u32();
      if (!r.ok)
        return false;
      c.done += n;
      q.unfinished -= std::min<std::uint64_t>(n, q.unfinished);
      break;
    }
    case op_join:
      c.join_pending = true;
      q.joiners.push_back(&c);
      break;
    case op_release: {
      auto acks = r.u32();
      if (!r.ok)
        return false;
      take_acked(q, c, acks);
      put_back_unacked(q, c);
      if (std::exchange(c.get_pending, false)) // a fetch armed by wait() is withdrawn too
        withdraw(q.getters, &c);
      break;
    }
    case op_ack: {
      auto acks = r.u32();
      if (!r.ok)
        return false;
      take_acked(q, c, acks);
      break;
    }
    default:
      return false;
  }
  serve(q);
  return r.ok;
}

// Hands items to waiting consumers, space to waiting producers, and answers
// joiners, in that order. Once the queue is shut down, a consumer that finds
// it empty and every producer are told so instead.
void server::serve(queue_state& q) {
  while (!q.getters.empty() && !q.items.empty()) {
    auto* c = q.getters.front();
    q.getters.pop_front();
    c->get_pending = false;
    // At most want_get items and about reply_bytes (at least one item), so
    // that a consumer's next batch travels while it uses this one.
    std::uint32_t n = 0;
    std::size_t bytes = 0;
    while (n < c->want_get && n < q.items.size() && (n == 0 || bytes < reply_bytes))
      bytes += q.items[n++].size();
    for (std::uint32_t i = 0; i < n; ++i) {
      c->unacked.push_back(std::move(q.items.front()));
      q.items.pop_front();
    }
    q.in_flight += n;
    q.gets += n;
    send_items(*c, n);
  }
  if (q.shut_down) {
    auto refuse = [&](std::deque<server_conn*>& waiting, bool server_conn::*pending) {
      for (auto* c : waiting) {
        c->*pending = false;
        send(*c, std::string(1, static_cast<char>(op_shut_down)));
      }
      waiting.clear();
    };
    if (q.items.empty())
      refuse(q.getters, &server_conn::get_pending);
    refuse(q.crediters, &server_conn::credit_pending);
  }
  while (!q.crediters.empty()) {
    auto free = room(q, q.crediters.front()->want_credit);
    if (free == 0)
      break;
    // A request stands until all it wanted was granted: room that frees
    // later is pushed to it without another request (pipelined credits).
    auto* c = q.crediters.front();
    auto granted = std::min<std::uint64_t>(free, std::max<std::uint32_t>(1, c->want_credit));
    if (granted >= c->want_credit || q.maxsize == 0) {
      q.crediters.pop_front();
      c->credit_pending = false;
      c->want_credit = 0;
    } else {
      c->want_credit -= static_cast<std::uint32_t>(granted);
    }
    if (q.maxsize > 0) {
      q.reserved += granted;
      c->credits += granted;
    }
    std::string reply(1, static_cast<char>(op_credit));
    put_u32(reply, static_cast<std::uint32_t>(granted));
    send(*c, reply);
  }
  if (!q.joiners.empty() && (q.unfinished == 0 || !q.abandoned.empty())) {
    std::string reply(1, static_cast<char>(op_join));
    reply += q.abandoned.empty() ? '\1' : '\0';
    reply += q.abandoned;
    for (auto* c : q.joiners) {
      c->join_pending = false;
      send(*c, reply);
    }
    q.joiners.clear();
    q.abandoned.clear();
  }
}

void server::send(server_conn& c, const std::string& payload) {
  char head[frame_header_size];
  put_header(head, {static_cast<std::uint32_t>(payload.size()), 0, frame_kind::object});
  std::size_t sent = 0;
  if (c.out.empty()) { // write straight from the payload; buffer what is left
    iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(payload.data()), payload.size()}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    auto n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == sizeof head + payload.size())
      return;
  }
  if (sent < sizeof head) {
    c.out.append(head + sent, sizeof head - sent);
    c.out += payload;
  } else {
    c.out.append(payload, sent - sizeof head, std::string::npos);
  }
  flush_out(c);
}

// Sends the iovecs at once if the socket takes them; what it does not take
// waits in c.out (after anything already waiting there).
void server::sendv(server_conn& c, iovec* iov, std::size_t count) {
  std::size_t sent = 0;
  if (c.out.empty()) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    auto n = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    sent = n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  bool left = false;
  for (std::size_t i = 0; i < count; ++i) {
    if (sent >= iov[i].iov_len) {
      sent -= iov[i].iov_len;
      continue;
    }
    c.out.append(static_cast<const char*>(iov[i].iov_base) + sent, iov[i].iov_len - sent);
    sent = 0;
    left = true;
  }
  if (left)
    flush_out(c);
}

// A get reply with the last n items of c.unacked: small items are copied
// into one buffer, big ones are sent from where they are.
void server::send_items(server_conn& c, std::uint32_t n) {
  scratch_.assign(frame_header_size, '\0');
  scratch_ += static_cast<char>(op_get);
  put_u32(scratch_, n);
  // Segments: (offset into scratch_, length) or a big item (nullptr offset).
  struct seg {
    const std::string* item;
    std::size_t off, len;
  };
  std::vector<seg> segs;
  std::size_t mark = 0, payload = scratch_.size() - frame_header_size;
  for (auto it = c.unacked.end() - n; it != c.unacked.end(); ++it) {
    put_u32(scratch_, static_cast<std::uint32_t>(it->size()));
    payload += 4 + it->size();
    if (it->size() < big_item) {
      scratch_ += *it;
      continue;
    }
    segs.push_back({nullptr, mark, scratch_.size() - mark});
    segs.push_back({&*it, 0, it->size()});
    mark = scratch_.size();
  }
  segs.push_back({nullptr, mark, scratch_.size() - mark});
  put_header(scratch_.data(), {static_cast<std::uint32_t>(payload), 0, frame_kind::object});
  iov_.clear();
  for (auto& sg : segs)
    if (sg.len > 0)
      iov_.push_back({sg.item ? const_cast<char*>(sg.item->data()) : scratch_.data() + sg.off,
                      sg.len});
  for (std::size_t i = 0; i < iov_.size(); i += 512) // IOV_MAX is 1024
    sendv(c, iov_.data() + i, std::min<std::size_t>(512, iov_.size() - i));
}

void server::flush_out(server_conn& c) {
  while (c.out_pos < c.out.size()) {
    auto n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos,
                    MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_pos += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    break; // EAGAIN: wait for EPOLLOUT; errors: the read side will see EOF
  }
  if (c.out_pos == c.out.size()) {
    c.out.clear();
    c.out_pos = 0;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT));
  ev.data.fd = c.fd;
  ::epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
}

// A client went away (exit, crash, or a bad frame). Nothing it was handed and
// had not taken is lost: those items go back to the head of the queue.
void server::drop(server_conn& c) {
  if (auto* q = c.q) {
    withdraw(q->getters, &c);
    withdraw(q->crediters, &c);
    withdraw(q->joiners, &c);
    put_back_unacked(*q, c);
    q->reserved -= std::min(q->reserved, c.credits);
    if (q->joinable && c.taken > c.done) {
      auto lost = c.taken - c.done;
      q->unfinished -= std::min(q->unfinished, lost);
      q->abandoned = "consumer pid " + std::to_string(c.pid) + " died holding "
                     + std::to_string(lost) + " unfinished item(s) of this queue";
    }
  }
  int fd = c.fd;
  auto* q = c.q;
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  conns_.erase(fd); // c is gone from here on
  if (q)
    serve(*q);
}

// -- the node's server, created on first use ----------------------------------------

std::mutex server_mtx;
server* the_server = nullptr;

server& node_server() {
  // The fork server starts before this process's first thread, and before
  // taking server_mtx: it must not inherit that mutex locked (its children,
  // which inherit its memory, would deadlock on it).
  auto& fs = require_node().ensure_forkserver();
  std::lock_guard<std::mutex> guard(server_mtx);
  if (!the_server) {
    the_server = new server;
    forkserver_cleanup_on_exit(fs, the_server->directory());
  }
  return *the_server;
}

} // namespace

// -- client ------------------------------------------------------------------------

class queue_client {
public:
  explicit queue_client(queue_address a) : addr(std::move(a)) {}
  ~queue_client() { close_all(); }

  queue_address addr;

  // Puts: a batch of encoded items, sent when full or by the flusher. The
  // batch starts with room for the op byte and count, filled in when sent.
  std::mutex put_mtx;
  unique_fd put_fd;
  std::string batch = std::string(batch_prefix, '\0');
  std::uint32_t batch_count = 0;
  std::uint64_t credits = 0;
  std::uint64_t credit_asked = 0; // requested, not yet granted (a request stands)
  bool credit_nowait = false;     // ... answered once, whatever it grants
  bool closed = false;
  bool pipelined_flush = false; // credit was just asked for: send the batch now
  bool unsynced = false; // puts sent that the server may not have read yet
  // The server said the queue is shut down (or this process shut it down):
  // put() throws from here on.
  std::atomic<bool> shut_down{false};

  // Gets: items fetched and not yet returned; acks for those returned.
  std::mutex get_mtx;
  std::mutex get_write_mtx;
  unique_fd get_fd;
  std::deque<std::string> fetched;
  // Items get() returned and the server has not heard of. They ride on the
  // next request; on a bounded queue, where they hold room, the flusher sends
  // them within ~200 microseconds if no request comes first.
  std::atomic<std::uint32_t> acks{0};
  std::uint32_t fetch_size = 1;
  bool fetch_pending = false; // a get request is out (sent for wait())
  bool prefetch_pending = false; // a nowait get request is out (pipelining)
  std::uint32_t asked = 0;      // items the last get request asked for
  std::uint32_t last_batch = 0; // items the last reply brought
  std::uint64_t taken = 0;
  std::uint64_t done = 0;

  // size and join.
  std::mutex ctl_mtx;
  unique_fd ctl_fd;

  void close_all() noexcept {
    put_fd.reset();
    get_fd.reset();
    ctl_fd.reset();
    // No answer comes on a new connection (a fork()ed child reconnects).
    prefetch_pending = false;
    fetch_pending = false;
    credit_asked = 0;
    credit_nowait = false;
    credits = 0; // granted to the old connection, not to the new one
  }

  // A consumer leaving normally: what get() returned is taken, what it had
  // fetched beyond that goes back to the queue, so nothing is delivered twice.
  void release() noexcept {
    std::lock_guard<std::mutex> lock(get_mtx);
    if (!get_fd || (acks.load() == 0 && fetched.empty()))
      return;
    std::string req(1, static_cast<char>(op_release));
    put_u32(req, acks.exchange(0));
    std::lock_guard<std::mutex> w(get_write_mtx);
    send_frame(get_fd.get(), frame_kind::object, req.data(), req.size(), {});
    fetched.clear();
    // A pipelined request was answered before the release was read: its
    // items went back with the rest; the reply is read and dropped.
    if (std::exchange(prefetch_pending, false))
      try {
        (void) read_reply(get_fd.get(), forever);
      } catch (...) {
      }
  }

  // Tells the server about items get() returned, if no request did yet. A
  // failed write is the owner's end, which the next call reports.
  void send_acks() noexcept {
    if (acks.load(std::memory_order_relaxed) == 0)
      return;
    std::lock_guard<std::mutex> w(get_write_mtx);
    auto n = acks.exchange(0);
    if (n == 0 || !get_fd)
      return;
    std::string ack(1, static_cast<char>(op_ack));
    put_u32(ack, n);
    (void) send_frame(get_fd.get(), frame_kind::object, ack.data(), ack.size(), {});
  }

  // Sends buffered puts and waits until the server has them: a size or join
  // request on another connection could otherwise overtake them. Returns the
  // queue's size, or nullopt if this process never put anything.
  std::optional<std::uint64_t> sync_puts() {
    std::lock_guard<std::mutex> put_lock(put_mtx);
    flush_locked();
    if (!put_fd)
      return std::nullopt;
    write(put_fd.get(), std::string(1, static_cast<char>(op_size)));
    auto reply = read_reply(put_fd.get(), forever);
    while (static_cast<op>((*reply)[0]) != op_size) { // credit grants came first
      absorb_credit(*reply);
      reply = read_reply(put_fd.get(), forever);
    }
    unsynced = false;
    reader r{reply->data() + 1, reply->data() + reply->size()};
    return r.u64();
  }

  // Connects (lazily) and says which queue this connection is for.
  void ensure(unique_fd& fd) {
    if (fd)
      return;
    auto s = connect_unix(addr.path);
    if (!s)
      throw owner_gone();
    std::string hello(1, static_cast<char>(op_hello));
    put_u32(hello, addr.id);
    if (!send_frame(s.get(), frame_kind::object, hello.data(), hello.size(), {}))
      throw owner_gone();
    fd = std::move(s);
  }

  eof_error owner_gone() const {
    return eof_error("the queue's owner process (pid " + std::to_string(addr.owner_pid)
                     + ") has exited or closed it");
  }

  void write(int fd, const std::string& payload) {
    if (!send_frame(fd, frame_kind::object, payload.data(), payload.size(), {}))
      throw owner_gone();
  }

  // Reads the next reply; nullopt on timeout. A shut_notice (put connection
  // only) is noted and skipped.
  std::optional<std::string> read_reply(int fd, duration timeout) {
    for (;;) {
      frame_header h;
      std::string payload, why;
      std::vector<int> fds;
      auto st = recv_frame(fd, h, payload, fds, timeout, why);
      if (st == recv_status::timeout)
        return std::nullopt;
      if (st != recv_status::ok || payload.empty())
        throw owner_gone();
      if (static_cast<op>(payload[0]) != op_shut_notice)
        return payload;
      shut_down = true;
    }
  }

  // A reply on the put connection: a credit grant (or shut_down instead).
  // Caller holds put_mtx.
  void absorb_credit(const std::string& reply) {
    if (static_cast<op>(reply[0]) == op_shut_down) {
      shut_down = true;
      credit_asked = 0;
      return;
    }
    if (static_cast<op>(reply[0]) != op_credit)
      return;
    reader r{reply.data() + 1, reply.data() + reply.size()};
    auto granted = r.u32();
    credits += granted;
    credit_asked -= std::min<std::uint64_t>(credit_asked, granted);
    if (std::exchange(credit_nowait, false))
      credit_asked = 0;
  }

  // Asks for `want` credits; the request stands at the server until all are
  // granted, unless `nowait` (then it is answered once). Caller holds put_mtx.
  void ask_credit(std::uint32_t want, bool nowait) {
    ensure(put_fd);
    std::string req(1, static_cast<char>(op_credit));
    put_u32(req, want);
    req += nowait ? '\1' : '\0';
    write(put_fd.get(), req);
    credit_asked = want;
    credit_nowait = nowait;
  }

  // put() on a queue that is shut down. Caller holds put_mtx.
  void refuse_if_shut_down() {
    if (!shut_down && put_fd) // a shut_notice (or grants) waiting?
      while (auto r = read_reply(put_fd.get(), duration::zero()))
        absorb_credit(*r);
    if (shut_down)
      throw queue_shut_down("queue::put: the queue was shut down (shutdown() was called); "
                            "it takes no more items");
  }

  // Sends the put batch from a caller that cannot throw (the flusher, node
  // shutdown, the last handle going): a failure is logged, not lost silently.
  void flush_or_log() noexcept {
    std::lock_guard<std::mutex> put_lock(put_mtx);
    try {
      flush_locked();
    } catch (const std::exception& e) {
      log::error() << "queue: buffered items could not be sent: " << e.what();
    } catch (...) {
      log::error() << "queue: buffered items could not be sent";
    }
  }

  // Sends the put batch. Caller holds put_mtx.
  void flush_locked() {
    if (batch_count == 0)
      return;
    ensure(put_fd);
    batch[0] = static_cast<char>(op_put);
    std::memcpy(batch.data() + 1, &batch_count, 4);
    std::string payload = std::exchange(batch, std::string(batch_prefix, '\0'));
    batch_count = 0;
    write(put_fd.get(), payload);
    unsynced = true;
  }

  // Sends one big item as a batch of its own, without copying it into the
  // batch buffer. Caller holds put_mtx, with the batch sent.
  void write_item(const std::string& item) {
    ensure(put_fd);
    char head[frame_header_size + batch_prefix + 4];
    auto size = static_cast<std::uint32_t>(batch_prefix + 4 + item.size());
    put_header(head, {size, 0, frame_kind::object});
    head[frame_header_size] = static_cast<char>(op_put);
    std::uint32_t one = 1, len = static_cast<std::uint32_t>(item.size());
    std::memcpy(head + frame_header_size + 1, &one, 4);
    std::memcpy(head + frame_header_size + batch_prefix, &len, 4);
    iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(item.data()), item.size()}};
    iovec* v = iov;
    std::size_t count = 2;
    while (count > 0) {
      msghdr msg{};
      msg.msg_iov = v;
      msg.msg_iovlen = count;
      auto n = ::sendmsg(put_fd.get(), &msg, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        throw owner_gone();
      auto left = static_cast<std::size_t>(n);
      while (count > 0 && left >= v->iov_len) {
        left -= v->iov_len;
        ++v;
        --count;
      }
      if (count > 0) {
        v->iov_base = static_cast<char*>(v->iov_base) + left;
        v->iov_len -= left;
      }
    }
    unsynced = true;
  }

  // Waits for a reply of type `want` (or shut_down) on `fd`; on timeout
  // cancels the request and drains replies up to the server's "cancelled" (a
  // reply that crossed the cancel is still returned).
  std::optional<std::string> await(int fd, op want, duration timeout) {
    if (auto r = read_reply(fd, timeout))
      return r;
    std::string cancel(1, static_cast<char>(op_cancel));
    write(fd, cancel);
    std::optional<std::string> answer;
    for (;;) {
      auto r = read_reply(fd, forever);
      if (static_cast<op>((*r)[0]) == op_cancelled)
        return answer;
      if (static_cast<op>((*r)[0]) == want || static_cast<op>((*r)[0]) == op_shut_down)
        answer = std::move(r);
    }
  }
};

namespace {

// The flusher: sends put batches and bounded-queue acks that have waited ~200
// microseconds, so an item put by a producer that then idles still leaves
// promptly, and a slot get() freed is soon free at the server too.
struct flusher {
  std::mutex mtx;
  std::condition_variable cv;
  std::unordered_set<queue_client*> pending;
  std::unordered_set<queue_client*> clients;
  std::thread thread;
  bool stopping = false;

  void run() {
    std::unique_lock<std::mutex> lock(mtx);
    while (!stopping) {
      cv.wait(lock, [this] { return stopping || !pending.empty(); });
      cv.wait_for(lock, flush_delay, [this] { return stopping; });
      auto work = std::move(pending);
      pending.clear();
      for (auto* c : work) {
        c->flush_or_log();
        c->send_acks();
      }
    }
  }
};

std::mutex flusher_mtx;
flusher* the_flusher = nullptr;

flusher& get_flusher() {
  require_node().ensure_forkserver(); // not under flusher_mtx: see node_server()
  std::lock_guard<std::mutex> guard(flusher_mtx);
  if (!the_flusher) {
    the_flusher = new flusher;
    the_flusher->thread = std::thread([f = the_flusher] {
      name_this_thread("actors.flusher");
      f->run();
    });
  }
  return *the_flusher;
}

void track(queue_client* c) {
  auto& f = get_flusher();
  std::lock_guard<std::mutex> guard(f.mtx);
  f.clients.insert(c);
}

} // namespace

std::shared_ptr<queue_client> create_queue(std::uint64_t maxsize, bool joinable) {
  return connect_queue(node_server().create(maxsize, joinable));
}

std::shared_ptr<queue_client> connect_queue(const queue_address& address) {
  auto c = std::shared_ptr<queue_client>(new queue_client(address), [](queue_client* p) {
    {
      std::lock_guard<std::mutex> guard(flusher_mtx);
      if (the_flusher) {
        std::lock_guard<std::mutex> g(the_flusher->mtx);
        the_flusher->pending.erase(p);
        the_flusher->clients.erase(p);
      }
    }
    p->flush_or_log(); // the last handle is gone: nothing buffered is lost
    p->release();
    delete p;
  });
  track(c.get());
  return c;
}

const queue_address& address_of(const queue_client& c) noexcept {
  return c.addr;
}

bool queue_put(queue_client& c, std::string item, duration timeout) {
  if (item.size() + 4 > frame_cap())
    throw error(errc::frame_too_large,
                "queue item of " + std::to_string(item.size()) + " bytes is over the cap of "
                  + std::to_string(frame_cap())
                  + " bytes; nothing was sent (raise it with actors::set_max_frame_size)");
  std::unique_lock<std::mutex> lock(c.put_mtx);
  if (c.closed)
    throw error(errc::closed, "this process closed the queue for putting");
  if (c.batch_count == 0) // once per batch: a put() after a shutdown throws soon
    c.refuse_if_shut_down();
  if (c.addr.maxsize > 0) {
    // Credits are pipelined: a request for the next window stands at the
    // server while this one is used, and the server pushes grants as room
    // frees. Only a producer that used them all up waits.
    auto window = static_cast<std::uint32_t>(
      std::clamp<std::uint64_t>(c.addr.maxsize / 4, 1, batch_items));
    if (c.credits == 0 && c.credit_asked > 0 && c.put_fd)
      while (c.credits == 0 && c.credit_asked > 0) { // grants already here?
        auto r = c.read_reply(c.put_fd.get(), duration::zero());
        if (!r)
          break;
        c.absorb_credit(*r);
      }
    if (c.credits == 0 && !c.shut_down) {
      c.send_acks(); // room our own get()s freed counts for this request
      c.flush_locked();
      bool nowait = timeout == duration::zero();
      if (c.credit_asked == 0)
        c.ask_credit(window, nowait);
      auto deadline = std::chrono::steady_clock::now() + (timeout == forever ? duration::zero() : timeout);
      while (c.credits == 0 && c.credit_asked > 0 && !c.shut_down) {
        auto left = timeout == forever ? forever
                                       : std::max(duration::zero(),
                                                  std::chrono::duration_cast<duration>(
                                                    deadline - std::chrono::steady_clock::now()));
        if (nowait && !c.credit_nowait)
          left = duration::zero(); // a standing request: only what is here
        auto r = c.read_reply(c.put_fd.get(), left);
        if (r) {
          c.absorb_credit(*r);
          continue;
        }
        // Timed out: withdraw the request, counting grants that crossed it.
        c.write(c.put_fd.get(), std::string(1, static_cast<char>(op_cancel)));
        for (;;) {
          auto reply = c.read_reply(c.put_fd.get(), forever);
          if (static_cast<op>((*reply)[0]) == op_cancelled)
            break;
          c.absorb_credit(*reply);
        }
        c.credit_asked = 0;
        c.credit_nowait = false;
        break;
      }
    }
    if (c.shut_down)
      c.refuse_if_shut_down();
    if (c.credits == 0)
      return false;
    --c.credits;
    if (c.credits <= window / 2 && c.credit_asked == 0 && window > 1) {
      c.send_acks();
      c.ask_credit(window, false);
      c.pipelined_flush = true; // the batch leaves with this item
    }
  }
  if (item.size() >= big_item) { // sent on its own, from where it is
    c.flush_locked();
    c.write_item(item);
    return true;
  }
  bool was_empty = c.batch_count == 0;
  append_item(c.batch, item);
  ++c.batch_count;
  if (c.batch.size() - batch_prefix >= batch_bytes || c.batch_count >= batch_items
      || std::exchange(c.pipelined_flush, false)) {
    c.flush_locked();
    return true;
  }
  lock.unlock();
  if (was_empty) {
    auto& f = get_flusher();
    std::lock_guard<std::mutex> guard(f.mtx);
    f.pending.insert(&c);
    f.cv.notify_one();
  }
  return true;
}

namespace {

// Sends a get request, with the acks of the items get() returned since the
// last one. Caller holds c.get_mtx.
void send_get(queue_client& c, bool nowait) {
  c.ensure(c.get_fd);
  std::string req(1, static_cast<char>(op_get));
  put_u32(req, c.fetch_size);
  put_u32(req, c.acks.exchange(0));
  req += nowait ? '\1' : '\0';
  c.asked = c.fetch_size;
  std::lock_guard<std::mutex> w(c.get_write_mtx);
  c.write(c.get_fd.get(), req);
}

// Sends a get request. Caller holds c.get_mtx.
void request_items(queue_client& c, bool nowait) {
  // Our own buffered puts go first: a process may consume what it produced.
  // A request that must not wait must not overtake them on the other
  // connection either (put(x); get_nowait() finds x).
  bool sync;
  {
    std::lock_guard<std::mutex> put_lock(c.put_mtx);
    c.flush_locked();
    sync = nowait && c.unsynced;
  }
  if (sync)
    (void) c.sync_puts();
  c.ensure(c.get_fd);
  send_get(c, nowait);
}

// The items of a get reply go to c.fetched. False for shut_down. Caller
// holds c.get_mtx.
bool absorb_items(queue_client& c, const std::string& reply, bool prefetch) {
  if (static_cast<op>(reply[0]) == op_shut_down)
    return false;
  reader r{reply.data() + 1, reply.data() + reply.size()};
  auto n = r.u32();
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string item;
    if (!r.item(item))
      throw c.owner_gone();
    c.fetched.push_back(std::move(item));
  }
  c.last_batch = n;
  // Fetch more next time while the queue keeps up with us.
  if (n == c.asked)
    c.fetch_size = std::min(max_fetch, c.fetch_size * 2);
  else if (!prefetch)
    c.fetch_size = std::max(1u, n);
  return true;
}

// Reads the answer to a pipelined request (the server answers those at
// once). Caller holds c.get_mtx.
void finish_prefetch(queue_client& c) {
  if (!std::exchange(c.prefetch_pending, false))
    return;
  auto reply = c.read_reply(c.get_fd.get(), forever);
  (void) absorb_items(c, *reply, true); // shut_down: the next request hears it again
}

} // namespace

int queue_wait_handle(queue_client& c) {
  std::lock_guard<std::mutex> lock(c.get_mtx);
  if (c.fetched.empty())
    finish_prefetch(c);
  if (!c.fetched.empty())
    return -1;
  if (!c.fetch_pending) {
    request_items(c, false);
    c.fetch_pending = true;
  }
  return c.get_fd.get();
}

std::optional<std::string> queue_get(queue_client& c, duration timeout) {
  std::lock_guard<std::mutex> lock(c.get_mtx);
  if (c.fetched.empty())
    finish_prefetch(c);
  if (c.fetched.empty()) {
    if (!std::exchange(c.fetch_pending, false))
      request_items(c, timeout == duration::zero());
    auto reply = c.await(c.get_fd.get(), op_get, timeout);
    if (!reply)
      return std::nullopt;
    if (!absorb_items(c, *reply, false))
      throw queue_shut_down("queue::get: the queue was shut down and is empty");
    if (c.fetched.empty())
      return std::nullopt;
  }
  auto item = std::move(c.fetched.front());
  c.fetched.pop_front();
  ++c.taken;
  // Pipelining: while the items keep coming in batches, the next batch is
  // asked for when half of this one is used, so that it travels meanwhile.
  // Such a request is answered at once with what the queue holds: nothing
  // waits at the server for a consumer that may stop calling get(). It
  // carries the acks.
  if (!c.prefetch_pending && c.last_batch > 1 && c.fetched.size() <= c.last_batch / 2) {
    c.acks.fetch_add(1);
    send_get(c, true);
    c.prefetch_pending = true;
    return item;
  }
  // A bounded queue counts the item against maxsize until acknowledged. One
  // ack frame per get() would cost a system call per item (4 consumers moved
  // 8x fewer items/s), so the flusher sends the acks of ~200 microseconds at
  // once, unless the next request carries them first.
  if (c.acks.fetch_add(1) == 0 && c.addr.maxsize > 0) {
    auto& f = get_flusher();
    std::lock_guard<std::mutex> guard(f.mtx);
    f.pending.insert(&c);
    f.cv.notify_one();
  }
  return item;
}

std::uint64_t queue_size(queue_client& c) {
  if (auto size = c.sync_puts())
    return *size;
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_size)));
  auto reply = c.read_reply(c.ctl_fd.get(), forever);
  reader r{reply->data() + 1, reply->data() + reply->size()};
  return r.u64();
}

void queue_task_done(queue_client& c) {
  {
    std::lock_guard<std::mutex> lock(c.get_mtx);
    if (c.done >= c.taken)
      throw error(errc::bad_argument,
                  "task_done() called more times than this process took items");
    ++c.done;
  }
  std::string req(1, static_cast<char>(op_done));
  put_u32(req, 1);
  std::lock_guard<std::mutex> w(c.get_write_mtx);
  c.ensure(c.get_fd);
  c.write(c.get_fd.get(), req);
}

bool queue_join(queue_client& c, duration timeout) {
  (void) c.sync_puts();
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_join)));
  auto reply = c.await(c.ctl_fd.get(), op_join, timeout);
  if (!reply)
    return false;
  if (reply->size() < 2 || (*reply)[1] != '\1')
    throw error(errc::consumer_died, "joinable_queue::join: " + reply->substr(2));
  return true;
}

bool queue_is_shut_down(queue_client& c) {
  if (c.shut_down)
    return true;
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_size)));
  auto reply = c.read_reply(c.ctl_fd.get(), forever);
  reader r{reply->data() + 1, reply->data() + reply->size()};
  (void) r.u64();
  (void) r.u64();
  return r.u8() == 1;
}

void queue_shutdown(queue_client& c, bool immediate) {
  (void) c.sync_puts(); // what this process put before shutdown() is in the queue
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  std::string req(1, static_cast<char>(op_shutdown));
  req += immediate ? '\1' : '\0';
  c.write(c.ctl_fd.get(), req);
  (void) c.read_reply(c.ctl_fd.get(), forever);
  c.shut_down = true;
  if (immediate) { // what this process fetched goes back at release, and is dropped
    std::lock_guard<std::mutex> get_lock(c.get_mtx);
    finish_prefetch(c);
    c.fetched.clear();
  }
}

void queue_close(queue_client& c) {
  std::lock_guard<std::mutex> put_lock(c.put_mtx);
  c.flush_locked();
  c.closed = true;
}

void start_control_endpoint() {
  (void) node_server();
}

void flush_all_queues() noexcept {
  std::unique_lock<std::mutex> guard(flusher_mtx);
  auto* f = the_flusher;
  guard.unlock();
  if (!f)
    return;
  std::vector<queue_client*> all;
  {
    std::lock_guard<std::mutex> g(f->mtx);
    all.assign(f->clients.begin(), f->clients.end());
  }
  for (auto* c : all) {
    c->flush_or_log();
    c->release();
  }
}

void stop_queue_server() noexcept {
  flush_all_queues();
  {
    std::lock_guard<std::mutex> guard(flusher_mtx);
    if (the_flusher) {
      {
        std::lock_guard<std::mutex> g(the_flusher->mtx);
        the_flusher->stopping = true;
      }
      the_flusher->cv.notify_all();
      the_flusher->thread.join();
      // Clients may outlive the node (static handles); keep the registry.
      the_flusher->stopping = false;
      the_flusher->thread = std::thread();
    }
  }
  std::lock_guard<std::mutex> guard(server_mtx);
  if (the_server) {
    the_server->stop();
    delete the_server;
    the_server = nullptr;
  }
}

void drop_inherited_queues() noexcept {
  // In a fork()ed child: the server and flusher threads did not survive the
  // fork. Our copies of the server's descriptors are closed; clients keep
  // their state but reconnect on first use, with a fresh flusher.
  if (the_server) {
    the_server->forget_after_fork();
    the_server = nullptr; // leaked: its thread object cannot be destroyed here
  }
  if (the_flusher) {
    for (auto* c : the_flusher->clients)
      c->close_all();
    the_flusher = nullptr; // leaked, as above
  }
}

} // namespace actors::detail
