#pragma once
// The node's transport for actors: one epoll loop per process over a
// listening Unix socket (in a private 0700 directory, peers checked with
// SO_PEERCRED), the connections other nodes opened to it, and the
// connections this node opened to others. Every message is a frame
// (frame.hpp) whose first payload byte is an operation code; the transport
// knows nothing about operations and hands each frame to the handler
// registered for its code.
//
// The loop thread is also a CAF execution unit: an actor that a frame
// wakes runs right there, on the thread that read the frame, instead of
// waiting for a scheduler worker (a hop costs 75-150 us on this machine).
// Replies that actors write on the loop thread are coalesced and sent once
// the batch of frames that caused them is handled.
//
// Sending is thread-safe. One thread at a time writes a connection; others
// append to its buffer and return, and the writer drains it. The loop thread
// never blocks on a full socket (it waits for EPOLLOUT); other threads do.
// Never installed.

#include "base/fd.hpp"
#include "io/wire.hpp"

#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace actors::detail {

class transport;
class event_loop;

/// What the transport needs from the node that hosts it, set by the node
/// (runtime/node.cpp) so that this layer includes nothing above it.
struct transport_host {
  /// Before the transport's first thread exists: makes sure the fork server
  /// runs (see "Fork-safety rule" in architecture.md). Throws errc::no_node.
  void (*prepare)() = nullptr;
  /// Has the transport's socket directory removed however the process ends.
  void (*remove_at_exit)(const std::string& dir) = nullptr;
};
void set_transport_host(const transport_host& h) noexcept;
/// Before any thread of this layer starts: runs transport_host::prepare.
void prepare_first_thread();

/// How long a thread that waits for a reply, or a transport loop that
/// has just had work, polls before it sleeps, in ns (0: never).
std::atomic<std::int64_t>& busy_poll_slot();

/// One connection to another node, in either direction.
class peer {
public:
  ~peer();
  int pid() const noexcept { return pid_; }
  /// The endpoint this node dialled; empty for a connection it accepted.
  const std::string& endpoint() const noexcept { return endpoint_; }
  /// True for a connection to another host (through the gateway): pid() is
  /// a process of that host, never one of ours.
  bool remote() const noexcept { return !endpoint_.empty() && endpoint_[0] != '/'; }
  bool closed() const noexcept { return closed_.load(); }

  /// Per-connection state owned by the services that use it (the actor
  /// runtime keeps its pending asks and monitors there).
  std::shared_ptr<void> service_state;
  /// service_state.get() once it is set (read without a lock).
  std::atomic<void*> service_state_ready{nullptr};

private:
  friend class transport;
  friend class event_loop;
  int fd_ = -1;
  int pid_ = 0;
  std::string endpoint_;
  event_loop* loop_ = nullptr;
  std::atomic<bool> closed_{false};
  inbuf in_; // loop thread only

  std::mutex out_mtx_;
  std::string out_;          // frames not written yet
  bool writing_ = false;     // a thread is writing: others only append
  bool write_dead_ = false;  // the peer is gone for writing
  bool queued_ = false;      // in the loop's list of peers to flush
  bool epollout_ = false;    // waiting for the socket to drain
};

using peer_ptr = std::shared_ptr<peer>;

/// One epoll loop on its own thread. A transport's loops read and write its
/// peers' frames and are CAF execution units for the actors those frames
/// wake; the node's service loop (service_loop.hpp) has no transport and
/// runs only what is watched, timed or posted on it. Every loop also serves
/// descriptors watched on it (watch()), timers (at()) and posted functions.
class event_loop : public caf::execution_unit {
public:
  using clock = std::chrono::steady_clock;
  /// Called on the loop thread with the epoll events of a watched descriptor.
  using fd_handler = std::function<void(std::uint32_t events)>;
  using timer_id = std::uint64_t;

  /// A loop of `owner` (whose listening socket, if `listener` >= 0, it
  /// accepts on), or with no owner a loop for watched descriptors only.
  /// `name` names its thread (nullptr: run_here() keeps the caller's name);
  /// `busy_poll` makes it poll for a while after
  /// work before it sleeps (busy_poll_slot()).
  event_loop(transport* owner, int listener, const char* name, bool busy_poll);
  void start();
  /// Runs the loop on the calling thread (a process whose main thread is a
  /// server, the manager's) until quit().
  void run_here() { run(); }
  /// Ends run_here() or the loop thread soon (any thread, the loop's too).
  void quit() noexcept;
  bool started() const noexcept { return started_.load(std::memory_order_acquire); }
  void add(const peer_ptr& p);
  void queue_flush(const peer_ptr& p);
  /// On this loop's thread, before it blocks (a future's get() in an
  /// actor's method): writes now what it kept for the end of its batch, or
  /// the ask it is about to wait for would never leave.
  void flush_now();
  /// Runs `fn` on the loop thread soon (in order with other posts).
  void post(std::function<void()> fn);
  /// Runs `fn` on the loop thread and returns once it has run: at once on
  /// the loop thread itself, or when the loop does not run.
  void call(const std::function<void()>& fn);
  void drain(peer& p, bool may_block);
  void exec_later(caf::resumable* ptr) override;
  void bind_system(caf::actor_system& sys) noexcept { system_ = &sys; }
  void stop() noexcept;
  void close_fds() noexcept;
  /// After stop() and close_fds(): what was posted and never ran is dropped,
  /// and so is whatever is posted from now on. A loop that code may still
  /// hold a reference to is retired instead of deleted.
  void retire() noexcept;
  /// The transport loop whose thread calls this, or nullptr (also on the
  /// service loop, which never runs actors).
  static event_loop* current() noexcept;
  /// True on this loop's thread.
  bool on_this_thread() const noexcept;

  /// Loop thread only (or before start()): watches `fd` for `events`
  /// (EPOLLIN, EPOLLOUT); `fn` runs on the loop thread with what epoll
  /// reported. A handler may watch or unwatch any descriptor, itself too.
  void watch(int fd, std::uint32_t events, fd_handler fn);
  void rewatch(int fd, std::uint32_t events);
  void unwatch(int fd) noexcept;
  /// Loop thread only (or before start()): runs `fn` once at `when`.
  timer_id at(clock::time_point when, std::function<void()> fn);
  void cancel(timer_id id) noexcept;
  /// Runs `fn` on this loop every `every` (set on the loop's thread).
  void set_tick(std::chrono::milliseconds every, std::function<void()> fn);
  /// Asks the loop thread to wait at its quiet point (between two epoll
  /// waits, holding no lock and not allocating) until unpark(); true once it
  /// waits there, false if it did not get there within `limit` (it is busy
  /// in an actor's method). Calls nest; the loop's own thread never waits.
  bool park(std::chrono::milliseconds limit);
  void unpark() noexcept;

private:
  friend class transport;
  void run();
  void service();
  void run_ready();
  void run_timers();
  void tick(std::chrono::milliseconds every, std::function<void()> fn);
  int wait(epoll_event* events, int max, bool spin);
  void on_readable(const peer_ptr& p);
  void set_epollout(peer& p, bool on);
  void wake() noexcept;
  void wait_while_parked();

  transport* owner_;
  const char* name_;
  bool busy_poll_;
  int listener_ = -1, epoll_ = -1, wake_ = -1;
  std::thread thread_;
  std::atomic<bool> started_{false}, stopping_{false};
  std::mutex posted_mtx_;
  std::vector<std::function<void()>> posted_;
  bool retired_ = false; // under posted_mtx_: see retire()
  std::vector<peer_ptr> to_flush_;
  std::vector<caf::resumable*> ready_; // loop thread only
  // Loop thread only: what is watched, and the timers by due time.
  std::unordered_map<int, std::shared_ptr<fd_handler>> watched_;
  std::map<std::pair<clock::time_point, timer_id>, std::function<void()>> timers_;
  std::unordered_map<timer_id, clock::time_point> timer_due_;
  timer_id next_timer_ = 1;
  std::mutex park_mtx_;
  std::condition_variable park_cv_;
  std::atomic<int> park_requests_{0};
  bool parked_ = false; // under park_mtx_
};

/// The node's transport: a listening socket, an inbound loop for the
/// connections other nodes open to this one (requests arrive there and the
/// actors they wake run on it), and an outbound loop for the connections
/// this node opens (replies and notifications arrive there). An actor that
/// blocks on an answer from another node thus never holds up the loop that
/// delivers it.
class transport {
public:
  /// Handles one frame; `data` starts after the operation byte.
  using handler = std::function<void(const peer_ptr&, const char* data, std::size_t size)>;
  /// Called on a loop thread once a connection has closed.
  using close_handler = std::function<void(const peer_ptr&)>;

  /// This node's transport, started on first use (after the fork server).
  static transport& get();
  /// The transport if it runs, else nullptr.
  static transport* running() noexcept;
  /// The same, without taking a lock (may lag a concurrent start or stop).
  static transport* running_fast() noexcept;

  /// The socket path other processes connect to.
  const std::string& endpoint() const noexcept { return server_.path(); }
  /// This node's private socket directory (removed when the node ends).
  const std::string& dir() const noexcept { return server_.dir(); }

  /// A connection to the node listening at `endpoint`, opened once and
  /// shared. Throws errc::eof when nothing listens there any more.
  peer_ptr connect(const std::string& endpoint);

  /// Registers the handler of operation `op` (before any frame with it
  /// arrives); `on_close` handlers run for every closed connection.
  void on(std::uint8_t op, handler h);
  void on_close(close_handler h);
  /// `fn` runs on a loop thread after the frames of one read are handled.
  void on_read_end(std::function<void()> fn) { read_end_.push_back(std::move(fn)); }

  /// Sends one frame with payload `payload` (operation byte first).
  /// `urgent` writes it now from this thread; otherwise it joins the
  /// connection's buffer and its loop writes it soon (after the batch it is
  /// handling, or within tens of microseconds), batched with others. False
  /// if the peer is gone. Throws errc::frame_too_large over the cap.
  bool send(const peer_ptr& p, const std::string& payload, bool urgent);

  /// Runs `fn` on the inbound loop's thread.
  void post(std::function<void()> fn) { inbound_.post(std::move(fn)); }

  /// Runs `fn` every `every` on the outbound loop (which watches peers).
  void set_outbound_tick(std::chrono::milliseconds every, std::function<void()> fn) {
    outbound_.set_tick(every, std::move(fn));
  }
  /// Every connection this node dialled that is still open.
  std::vector<peer_ptr> dialled();
  /// Closes a connection as if its peer had gone (its close handlers run).
  void close(const peer_ptr& p) { drop(p); }
  /// Closes the connection this node dialled to `endpoint`, if one is open:
  /// the process behind it is known to be ending, and the next connect()
  /// must reach whatever listens there next.
  void forget(const std::string& endpoint);

  /// True on the loop thread that delivers replies: blocking there on an
  /// answer would never end.
  bool on_outbound_loop() const noexcept { return event_loop::current() == &outbound_; }
  /// True on either loop thread.
  static bool on_a_loop() noexcept { return event_loop::current() != nullptr; }

  /// Sets the actor system whose actors may run on the loop threads.
  void bind_system(caf::actor_system& sys) noexcept;

  void stop() noexcept;
  /// Around fork(): parks both loop threads at their quiet points, so the
  /// child inherits no lock (ours, libc's or a sanitizer's) that one of
  /// them held mid-operation. See event_loop::park().
  void park_for_fork();
  void unpark_after_fork() noexcept;
  void forget_after_fork() noexcept;

private:
  friend class event_loop;
  transport();
  void accept_all();
  void dispatch(const peer_ptr& p, const char* data, std::size_t size);
  void drop(const peer_ptr& p);

  private_server server_{"actors"};
  std::vector<handler> handlers_{256};
  std::vector<close_handler> close_handlers_;
  std::vector<std::function<void()>> read_end_;

  std::mutex peers_mtx_;
  std::unordered_map<int, peer_ptr> peers_;           // by fd
  std::unordered_map<std::string, peer_ptr> dialled_; // by endpoint

  event_loop inbound_, outbound_;
};

/// Stops the node's transport (node shutdown); a fork child forgets it.
void stop_transport() noexcept;
void drop_inherited_transport() noexcept;

} // namespace actors::detail
