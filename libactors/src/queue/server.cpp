// The queue server on the node's service loop (io/service_loop.hpp): its
// listening socket, its connections and their I/O, and the node's server,
// created on first use. Requests are handled
// in server_requests.cpp; the wire and its rules are described in wire.hpp.

#include "queue/server.hpp"
#include "queue/wire.hpp"
#include "runtime/stats.hpp"

#include <actors/detail/queue_client.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "io/frame.hpp"
#include "io/service_loop.hpp"
#include "runtime/control.hpp"
#include "runtime/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace actors::detail {

using namespace queue_wire;

server::server() : path_(control_endpoint()), loop_(service_loop()) {}

server::~server() {
  stop();
}

queue_address server::create(std::uint64_t maxsize, bool joinable) {
  auto q = std::make_unique<queue_state>();
  q->maxsize = maxsize;
  q->joinable = joinable;
  if (maxsize > 0) {
    q->rng = std::make_unique<ring>(maxsize, joinable);
    // The loop's thread holds the ring's owner lock: clients learn from it
    // that this process serves the queue (ring.hpp).
    loop_.call([&] { q->rng->serve_from_this_thread(); });
  }
  std::lock_guard<std::mutex> guard(mtx_);
  q->id = next_id_++;
  queue_address a{path_, q->id, maxsize, joinable, ::getpid()};
  queues_[q->id] = std::move(q);
  return a;
}

void server::stop() noexcept {
  if (stopped_)
    return;
  stopped_ = true;
  loop_.call([this] {
    far_retry_.cancel(loop_);
    {
      std::lock_guard<std::mutex> guard(mtx_);
      for (auto& [id, q] : queues_)
        if (q->rng)
          q->rng->close();
    }
    for (auto& [fd, c] : conns_) {
      loop_.unwatch(fd);
      ::close(fd);
    }
    conns_.clear();
  });
}

void server::forget_after_fork() noexcept {
  // The loop thread does not exist in a fork()ed child; close our copies of
  // the connections so the parent's clients still see the parent's server.
  for (auto& [fd, c] : conns_)
    ::close(fd);
}

void server::on_events(int fd, std::uint32_t events) {
  auto it = conns_.find(fd);
  if (it == conns_.end())
    return;
  auto& c = *it->second;
  if (events & EPOLLOUT)
    flush_out(c);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
    on_readable(c); // may drop c
}

void server::adopt(unique_fd fd, int pid, inbuf in) {
  auto c = std::make_unique<server_conn>();
  c->fd = fd.release();
  c->pid = pid;
  c->in = std::move(in);
  int at = c->fd;
  auto& conn = *c;
  conns_[at] = std::move(c);
  loop_.watch(at, EPOLLIN, [this, at](std::uint32_t events) { on_events(at, events); });
  handle_buffered(conn, false); // the hello, and whatever came with it
}

void server::on_readable(server_conn& c) {
  // Reads straight into the connection's buffer (no bounce through the
  // stack); a frame bigger than the buffer grows it once to the frame's size.
  handle_buffered(c, !c.in.read_available(c.fd));
}

void server::handle_buffered(server_conn& c, bool eof) {
  auto problem = frames_problem(c.in, [&](const char* p, std::size_t size) {
    return handle(c, p, size);
  }, "a malformed request");
  if (!problem.empty()) {
    log::error() << "queue server: closing the connection of " << c.who() << " after "
                 << problem;
    drop(c);
    return;
  }
  if (eof)
    drop(c);
}

void server::send(server_conn& c, const std::string& payload) {
  char head[frame_header_size];
  put_header(head, {static_cast<std::uint32_t>(payload.size()), 0, frame_kind::object});
  iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(payload.data()), payload.size()}};
  sendv(c, iov, 2);
}

// Sends the iovecs at once if the socket takes them; what it does not take
// waits in c.out (after anything already waiting there, which goes first).
void server::sendv(server_conn& c, iovec* iov, std::size_t count) {
  if (!c.out.empty()) {
    for (std::size_t i = 0; i < count; ++i)
      c.out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return flush_out(c);
  }
  // A send error leaves nothing to keep: the read side sees the end.
  if (send_or_keep(c.fd, iov, count, c.out) && !c.out.empty())
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
  loop_.rewatch(c.fd, EPOLLIN | (c.out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT)));
}

namespace {

// -- the node's server, created on first use ----------------------------------------

std::mutex server_mtx;
// Read without the lock by the loop's handlers; set to null before the
// server is stopped, so none of them can hold it once stop() returns.
std::atomic<server*> the_server{nullptr};

server& node_server() {
  // The fork server starts before this process's first thread, and before
  // taking server_mtx: it must not inherit that mutex locked (its children,
  // which inherit its memory, would deadlock on it).
  (void) require_node().ensure_forkserver();
  std::lock_guard<std::mutex> guard(server_mtx);
  if (auto* s = the_server.load())
    return *s;
  auto* s = new server;
  the_server.store(s);
  // Connections to the node's socket that start with a hello are ours;
  // actors-top sees the queues through the stats. Both run on the loop.
  add_node_service(op_hello, [](unique_fd fd, int pid, inbuf in) {
    if (auto* now = the_server.load())
      now->adopt(std::move(fd), pid, std::move(in));
  });
  static bool registered = (add_stats_source([](node_stats& st) {
                              auto* now = the_server.load();
                              if (now && on_service_loop())
                                now->add_stats(st);
                            }),
                            true);
  (void) registered;
  return *s;
}

} // namespace

queue_address create_on_node_server(std::uint64_t maxsize, bool joinable) {
  return node_server().create(maxsize, joinable);
}

void stop_node_server() noexcept {
  std::lock_guard<std::mutex> guard(server_mtx);
  if (auto* s = the_server.exchange(nullptr)) {
    s->stop(); // waits for the loop: no handler holds s after this
    delete s;
  }
}

void forget_inherited_node_server() noexcept {
  if (auto* s = the_server.exchange(nullptr))
    s->forget_after_fork(); // leaked: its loop's thread is not here
}

} // namespace actors::detail
