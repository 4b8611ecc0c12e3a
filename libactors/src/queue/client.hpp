#pragma once
// The queue client (client.cpp): a process's connections to one queue, its put
// batches, its get prefetch, a bounded queue's ring, and the flush timer on the node's
// service loop that sends what waited. The wire is described in wire.hpp.
// Never installed.

#include "queue/ring.hpp"
#include "io/route.hpp"
#include "queue/wire.hpp"
#include "runtime/stats.hpp"

#include <actors/detail/queue_client.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "io/frame.hpp"
#include "io/service_loop.hpp"
#include "runtime/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace actors::detail {

using namespace queue_wire;

class queue_client {
public:
  explicit queue_client(queue_address a) : addr(std::move(a)) {}
  ~queue_client() { close_all(); }

  queue_address addr;
  // A bounded queue on another host: its ring cannot be mapped here, so
  // the owner's server puts and gets for this client (server_far.cpp), one
  // round trip per call: put on put_fd, get, wait and task_done on get_fd,
  // the rest on ctl_fd. Set from the address; a test may set it for a queue
  // on this host.
  bool far = addr.maxsize > 0 && is_remote_endpoint(addr.path);

  // Puts: a batch of encoded items, sent when full or by the flush timer.
  // The batch starts with room for the op byte and count, filled in when sent.
  std::mutex put_mtx;
  unique_fd put_fd;
  // What the flush timer could not send without waiting (the end of a frame,
  // or whole frames): the socket was full. Every later write on put_fd sends
  // it first, so frames never interleave; under put_mtx.
  std::string put_tail;
  std::string batch = std::string(batch_prefix, '\0');
  std::uint32_t batch_count = 0;
  std::atomic<bool> closed{false};
  bool unsynced = false; // puts sent that the server may not have read yet
  // The server said the queue is shut down (or this process shut it down):
  // put() throws from here on.
  std::atomic<bool> shut_down{false};

  // Gets: items fetched and not yet returned; acks for those returned.
  std::mutex get_mtx;
  std::mutex get_write_mtx; // every write on get_fd, and get_tail
  unique_fd get_fd;
  std::string get_tail; // as put_tail, for the acks the flush timer sends
  std::deque<std::string> fetched;
  // Items get() returned and the server has not heard of. They ride on the
  // next request; on a bounded queue, where they hold room, the flush timer
  // sends them within ~200 microseconds if no request comes first.
  std::atomic<std::uint32_t> acks{0};
  std::uint32_t fetch_size = 1;
  bool fetch_pending = false; // a get request is out (sent for wait())
  bool prefetch_pending = false; // a nowait get request is out (pipelining)
  std::uint32_t asked = 0;      // items the last get request asked for
  std::uint32_t last_batch = 0; // items the last reply brought
  std::chrono::steady_clock::time_point fetched_at{}; // when the last reply came
  std::uint64_t taken = 0;
  std::uint64_t done = 0;

  // size and join; a bounded queue's ring connection (attach, watch, poke).
  std::mutex ctl_mtx;
  unique_fd ctl_fd;

  // A bounded queue: its ring (ring.hpp), attached on first use over
  // ctl_fd; the record the server gave this client (joinable queues), and
  // whether a wait() asked the server to say when an item comes.
  std::unique_ptr<ring> rng;
  std::atomic<ring*> rng_ptr{nullptr};
  int record = -1;
  std::atomic<bool> watch_pending{false};
  // Asked by the ring while it waits: the server's end of ctl_fd is open.
  std::function<bool()> ctl_open = [this] {
    char b;
    return ::recv(ctl_fd.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
  };

  void close_all() noexcept {
    put_fd.reset();
    get_fd.reset();
    ctl_fd.reset();
    // A frame's unsent end belongs to the old connection (the parent sends it).
    put_tail.clear();
    get_tail.clear();
    // No answer comes on a new connection (a fork()ed child reconnects).
    prefetch_pending = false;
    fetch_pending = false;
  }

  // In a fork()ed child: the connections are the parent's, and so are the
  // put batch (its put()s returned there: the parent sends it), the fetched
  // items and their acks (the parent returns and acknowledges them), and the
  // task_done() count. A thread of the parent may have held a lock at the
  // fork; none runs here, so each lock is made anew, unlocked.
  void forget_after_fork() noexcept {
    new (&put_mtx) std::mutex;
    new (&get_mtx) std::mutex;
    new (&get_write_mtx) std::mutex;
    new (&ctl_mtx) std::mutex;
    close_all();
    batch.assign(batch_prefix, '\0');
    batch_count = 0;
    unsynced = false;
    fetched.clear();
    acks = 0;
    fetch_size = 1;
    asked = 0;
    last_batch = 0;
    fetched_at = {};
    taken = 0;
    done = 0;
    // The ring is shared memory, but the record and the connection that
    // stands for this process are the parent's: attach anew.
    rng_ptr = nullptr;
    rng.reset();
    record = -1;
    watch_pending = false;
  }

  // The ring of a bounded queue, attached on first use: the server sends
  // its descriptor, and a record for this client.
  ring& attached_ring() {
    if (auto* r = rng_ptr.load(std::memory_order_acquire))
      return *r;
    std::lock_guard<std::mutex> lock(ctl_mtx);
    if (!rng) {
      ensure(ctl_fd);
      write(ctl_fd.get(), std::string(1, static_cast<char>(op_attach)));
      frame_header h;
      std::string payload, why;
      std::vector<int> fds;
      auto st = recv_frame(ctl_fd.get(), h, payload, fds, forever, why);
      if (st != recv_status::ok || payload.size() < 5 || static_cast<op>(payload[0]) != op_attach
          || fds.size() != 1) {
        for (int fd : fds)
          ::close(fd);
        throw owner_gone();
      }
      reader r{payload.data() + 1, payload.data() + payload.size()};
      record = static_cast<int>(r.u32());
      rng = std::make_unique<ring>(unique_fd(fds[0]));
      rng_ptr.store(rng.get(), std::memory_order_release);
    }
    return *rng;
  }

  // Tells the server that an item came or the queue was shut down, for the
  // processes whose wait() watches the queue. A failure is the owner's end,
  // which the next call reports.
  void poke() noexcept {
    std::lock_guard<std::mutex> lock(ctl_mtx);
    try {
      write(ctl_fd.get(), std::string(1, static_cast<char>(op_poke)));
    } catch (...) {
    }
  }

  // Withdraws the watch a wait() left (one round trip): the answer, if one
  // came, is read, so the descriptor is quiet again.
  void end_watch() {
    if (!watch_pending.load())
      return;
    std::lock_guard<std::mutex> lock(ctl_mtx);
    if (!watch_pending.exchange(false))
      return;
    write(ctl_fd.get(), std::string(1, static_cast<char>(op_unwatch)));
    while (static_cast<op>((*read_reply(ctl_fd.get(), forever))[0]) != op_unwatched) {
    }
  }

  // A consumer leaving normally: what get() returned is taken, what it had
  // fetched beyond that goes back to the queue, so nothing is delivered twice.
  void release() noexcept {
    std::lock_guard<std::mutex> lock(get_mtx);
    if (!get_fd || (acks.load() == 0 && fetched.empty()))
      return;
    std::string req(1, static_cast<char>(op_release));
    put_u32(req, acks.exchange(0));
    bool sent = true;
    {
      std::lock_guard<std::mutex> w(get_write_mtx);
      try {
        write_get(req);
      } catch (...) {
        sent = false; // the owner is gone: there is nothing to give back to
      }
    }
    fetched.clear();
    // A pipelined request was answered before the release was read: its
    // items went back with the rest; the reply is read and dropped.
    if (std::exchange(prefetch_pending, false) && sent)
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
    try {
      write_get(ack);
    } catch (...) {
    }
  }

  // Sends buffered puts and waits until the server has them: a size or join
  // request on another connection could otherwise overtake them. Returns the
  // queue's size, or nullopt if this process never put anything.
  std::optional<std::uint64_t> sync_puts() {
    std::lock_guard<std::mutex> put_lock(put_mtx);
    flush_locked();
    if (!put_fd)
      return std::nullopt;
    write_put(std::string(1, static_cast<char>(op_size)));
    auto reply = read_reply(put_fd.get(), forever);
    unsynced = false;
    reader r{reply->data() + 1, reply->data() + reply->size()};
    return r.u64();
  }

  // Connects (lazily) and says which queue this connection is for. get_fd
  // connects under get_write_mtx only: task_done() writes there without
  // get_mtx.
  void ensure(unique_fd& fd) {
    if (fd)
      return;
    unique_fd s;
    try {
      s = connect_endpoint(addr.path);
    } catch (const error& e) { // only another host's queue throws (through the gateways)
      throw eof_error("the queue's owner on another host cannot be reached: "
                      + std::string(e.what()));
    }
    if (!s)
      throw owner_gone();
    std::string hello(1, static_cast<char>(op_hello));
    put_u32(hello, addr.id);
    if (far || is_remote_endpoint(addr.path)) { // the server sees the gateway's pid
      put_u32(hello, static_cast<std::uint32_t>(::getpid()));
      hello += cluster_host();
    }
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

  // Sends what the flush timer left unsent on `fd`, before anything else
  // goes out there; may block. Caller holds the lock that guards `tail`.
  void settle(int fd, std::string& tail) {
    if (tail.empty())
      return;
    iovec iov{tail.data(), tail.size()};
    if (!send_all(fd, &iov, 1))
      throw owner_gone();
    tail.clear();
  }

  // Writes a frame on the put connection, after what the flush timer left.
  // Caller holds put_mtx.
  void write_put(const std::string& payload) {
    ensure(put_fd);
    settle(put_fd.get(), put_tail);
    write(put_fd.get(), payload);
  }

  // Writes a frame on the get connection, after what the flush timer left.
  // Caller holds get_write_mtx.
  void write_get(const std::string& payload) {
    ensure(get_fd);
    settle(get_fd.get(), get_tail);
    write(get_fd.get(), payload);
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

  // put() on a queue that is shut down. Caller holds put_mtx.
  void refuse_if_shut_down() {
    if (!shut_down && put_fd) // a shut_notice waiting? (read_reply notes it)
      while (read_reply(put_fd.get(), duration::zero())) {
      }
    if (shut_down)
      throw queue_shut_down("queue::put: the queue was shut down (shutdown() was called); "
                            "it takes no more items");
  }

  // Sends the put batch from a caller that cannot throw (node shutdown, the
  // last handle going): a failure is logged, not lost silently.
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

  // Sends the put batch (and what the flush timer left). Caller holds
  // put_mtx.
  void flush_locked() {
    if (batch_count == 0) {
      if (!put_tail.empty())
        settle(put_fd.get(), put_tail);
      return;
    }
    ensure(put_fd);
    write_put(take_batch());
  }

  // The batch as a put payload, leaving an empty batch. Caller holds put_mtx.
  std::string take_batch() {
    batch[0] = static_cast<char>(op_put);
    std::memcpy(batch.data() + 1, &batch_count, 4);
    batch_count = 0;
    unsynced = true;
    return std::exchange(batch, std::string(batch_prefix, '\0'));
  }

  // What the flush timer finds: nothing left, something for the next tick
  // (~flush_delay), or a client busy in another thread (~busy_retry).
  enum class flush_left { nothing, soon, later };

  // The flush timer's turn, on the service loop, which may be the one that
  // serves this queue: a blocking write there would wait for the loop itself
  // once the socket is full, and waiting for put_mtx or get_write_mtx would
  // wait for a thread that may wait for the loop. So both are only tried,
  // and what a full socket does not take stays in put_tail or get_tail.
  flush_left flush_nowait() noexcept {
    bool done = true;
    bool later = false;
    if (std::unique_lock<std::mutex> lock(put_mtx, std::try_to_lock); lock) {
      if (put_fd)
        done = send_nowait(put_fd.get(), put_tail, batch_count > 0 ? take_batch() : std::string());
      else
        done = put_tail.empty();
    } else {
      // That thread is adding to the batch or sending it: look again
      // later (~1 ms), not every tick.
      later = true;
    }
    if (std::unique_lock<std::mutex> w(get_write_mtx, std::try_to_lock); !w) {
      // That thread sends get_tail first; acks it does not carry wait.
      done = done && acks.load() == 0;
    } else if (get_fd) {
      std::string ack;
      if (auto n = acks.exchange(0)) { // (a get request may have taken them)
        ack.assign(1, static_cast<char>(op_ack));
        put_u32(ack, n);
      }
      done = send_nowait(get_fd.get(), get_tail, ack) && done;
    } else {
      done = done && get_tail.empty();
    }
    return !done ? flush_left::soon : later ? flush_left::later : flush_left::nothing;
  }

  // Without blocking, in one sendmsg: `tail`, then `payload` as a frame
  // (none if empty); what the socket does not take stays in `tail`. True
  // when nothing stays. A failed send is the owner's end, which the next
  // call of a user thread reports: nothing stays, and lost items (not acks)
  // are logged, as flush_or_log does.
  bool send_nowait(int fd, std::string& tail, const std::string& payload) noexcept {
    char head[frame_header_size];
    iovec iov[3] = {{tail.data(), tail.size()},
                    {head, sizeof head},
                    {const_cast<char*>(payload.data()), payload.size()}};
    std::size_t count = 1;
    if (!payload.empty()) {
      put_header(head, {static_cast<std::uint32_t>(payload.size()), 0, frame_kind::object});
      count = 3;
    }
    try {
      std::string rest;
      if (send_or_keep(fd, iov, count, rest)) {
        tail.swap(rest);
        return tail.empty();
      }
      if (fd == put_fd.get())
        log::error() << "queue: buffered items could not be sent: " << owner_gone().what();
    } catch (...) { // no memory for the rest: as lost as a failed send
    }
    tail.clear();
    return true;
  }

  // Sends one big item as a batch of its own, without copying it into the
  // batch buffer. Caller holds put_mtx, with the batch sent.
  void write_item(const std::string& item) {
    ensure(put_fd);
    settle(put_fd.get(), put_tail);
    char head[frame_header_size + batch_prefix + 4];
    auto size = static_cast<std::uint32_t>(batch_prefix + 4 + item.size());
    put_header(head, {size, 0, frame_kind::object});
    head[frame_header_size] = static_cast<char>(op_put);
    std::uint32_t one = 1, len = static_cast<std::uint32_t>(item.size());
    std::memcpy(head + frame_header_size + 1, &one, 4);
    std::memcpy(head + frame_header_size + batch_prefix, &len, 4);
    iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(item.data()), item.size()}};
    if (!send_all(put_fd.get(), iov, 2))
      throw owner_gone();
    unsynced = true;
  }

  // Waits for a reply of type `want` (or shut_down) on `fd`; on timeout
  // cancels the request and drains replies up to the server's "cancelled" (a
  // reply that crossed the cancel is still returned).
  std::optional<std::string> await(int fd, op want, duration timeout) {
    if (auto r = read_reply(fd, timeout))
      return r;
    std::string cancel(1, static_cast<char>(op_cancel));
    if (fd == get_fd.get()) { // the flush timer writes acks there too
      std::lock_guard<std::mutex> w(get_write_mtx);
      write_get(cancel);
    } else {
      write(fd, cancel);
    }
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

// Every client of this process (flush_all_queues and the deleter find them
// here), and the flush timer's work: clients whose put batch or acks wait.
// The timer is not a thread of its own but a timer on the node's service
// loop (io/service_loop.hpp), armed while something waits: each tick sends,
// without blocking, what waited ~200 microseconds (flush_delay), so an item
// put by a producer that then idles still leaves promptly, and a slot get()
// freed is soon free at the server too.
struct flush_registry {
  std::mutex mtx; // a tick holds it: a client is not deleted under the tick
  std::unordered_set<queue_client*> clients;
  std::unordered_set<queue_client*> pending;
  bool armed = false; // a tick is due on the service loop
};

// Guards the_registry, which a fork()ed child replaces (drop_inherited_queues).
extern std::mutex registry_mtx;
extern flush_registry* the_registry;

// The registry, made on first use; starts the service loop first.
flush_registry& registry();

// Registers a client (flush_all_queues reaches it there).
void track(queue_client* c);

// Has the flush timer send c's batch and acks within ~flush_delay.
void flush_soon(queue_client& c);

} // namespace actors::detail
