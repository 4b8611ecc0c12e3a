#pragma once
// A pool's supervisor: the pool_core behind actors::pool. Never installed.
//
// Supervisor. Event-driven state on the node's service loop
// (io/service_loop.hpp), not a thread of its own: every pool of the process
// shares that one thread with the queue server. All scheduling state is
// touched only there (an actor in all but name): the loop watches one socket
// per worker, callers post new jobs and flags to it, and each event ends
// with step(), which reaps, starts workers, dispatches and closes. It sends
// each worker a window of jobs (about 2 ms of work, from the measured task
// time), reads results in order, and completes the jobs' sinks there, so
// user callbacks run on the service loop.
//
// Worker death. Each worker writes the id of the task it is running into
// its slot of a shared-memory array. When a worker's socket reaches EOF the
// supervisor reads every result it sent, waits (without blocking the loop:
// it watches the worker's sentinel, and kills it after a grace second) until
// it has exited, reaps it, and looks at its slot: that task is the one that
// died with it (it fails with worker_died, or is retried); every other job
// it had been sent goes back to the head of the queue. A replacement is
// started at once.
//
// Workers. The supervisor starts and stops them through worker_process, so
// tests drive it with fake workers over socket pairs, without processes
// (tests/pool_supervisor_test.cpp).

#include <actors/detail/pool_core.hpp>
#include <actors/detail/shm.hpp>
#include <actors/process.hpp>

#include "base/fd.hpp"
#include "io/transport.hpp"
#include "io/wire.hpp"
#include "pool/protocol.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace actors::detail {

struct sent_job {
  std::uint64_t id;
  job j;
};

/// One started worker, as the supervisor sees it: a process in the library
/// (process_workers()), a fake without a process in tests. Loop thread.
class worker_process {
public:
  virtual ~worker_process() = default;
  virtual int pid() const = 0;
  /// Whether it has exited (then it is reaped); never blocks.
  virtual bool exited_now() = 0;
  /// A descriptor that becomes readable when it exits, or -1 if there is
  /// none (then join_or_kill() is used).
  virtual int sentinel() = 0;
  /// Waits for its exit, killing it after the grace period.
  virtual void join_or_kill() = 0;
  virtual void kill() = 0;      // SIGKILL
  virtual void terminate() = 0; // SIGTERM
  /// Python's exitcode: the exit status, or minus the signal; none while it runs.
  virtual std::optional<int> exitcode() = 0;
  /// A worker on another host talks over a connection of its own (through
  /// the cluster's gateways), not over boot.sock: it hands that over once.
  virtual unique_fd take_socket() { return {}; }
  /// True when its exit is known but not which task it was running (its
  /// host was lost with its slot): the oldest job it was sent is taken as
  /// the one that died.
  virtual bool running_unknown() { return false; }
};

/// Starts a worker that serves `boot` (its socket is boot.sock.fd, which
/// the starter must duplicate if it keeps it: it is closed after the call).
using worker_starter =
  std::function<std::unique_ptr<worker_process>(const worker_boot& boot, const std::string& name)>;

/// The library's starter: a process running pool_worker, with `method`.
worker_starter process_workers(start_method method);
/// Workers spread over cluster hosts in turn (pool_options::hosts); those
/// of this host are process_workers(method). pool/remote.cpp.
worker_starter host_workers(std::vector<std::string> hosts, start_method method);

struct worker {
  std::unique_ptr<worker_process> proc;
  int pid = 0;
  unique_fd sock;
  std::uint32_t slot = 0;
  inbuf in;
  outbox out;
  std::deque<sent_job> inflight;
  std::size_t known_defs = 0;
  std::uint64_t sent = 0;
  bool exclusive = false; // runs a job with a timeout, alone
  clock::time_point deadline = clock::time_point::max();
  bool timed_out = false;
  bool eof = false;
  // How the loop follows it: the events its socket is watched for (0: not
  // watched), and, once it is ending, its sentinel and the grace timer that
  // kills it if it does not exit in time.
  std::uint32_t watching = 0;
  bool exited = false; // its exit status is known: it can be reaped
  int sentinel = -1;
  event_loop::timer_id grace_timer = 0;
};


class pool_core : public std::enable_shared_from_this<pool_core> {
public:
  /// `start` starts each worker; process_workers(c.method) by default.
  explicit pool_core(pool_config c, worker_starter start = {});
  ~pool_core();

  // For actors-top.
  std::atomic<std::uint64_t> queued{0}, running{0}, done{0};

  // Shared with callers, under mtx.
  pool_config cfg;
  std::mutex mtx;
  std::condition_variable finished_cv;
  std::vector<job> inbox;
  bool closed = false, terminating = false, cancel_pending = false, finished = false;
  bool kill_workers = false; // terminating with SIGKILL rather than SIGTERM
  std::exception_ptr broken; // the initializer failed
  std::vector<int> pids;
  std::uint64_t restarts = 0;

  /// The caller's thread, before attach(): the first workers.
  void start_initial_workers();
  /// Hands the pool to the service loop, which owns its state from now on.
  void attach();
  /// Under mtx, from any thread: whether the loop still runs this pool (it
  /// has not finished), so that wake() may be called after the lock.
  bool wakeable_locked() const noexcept { return attached_ && !finished; }
  /// From any thread, without mtx: has the loop run a step soon (new jobs or
  /// flags). Posting after the lock keeps the loop, which takes mtx in its
  /// step, from waking only to wait for the caller's lock.
  void wake();

  /// Loop thread, at node shutdown: terminates the pool now, waiting for
  /// its workers (the loop serves nothing else any more).
  void end_now() noexcept;
  /// In a fork()ed child: forgets the parent's pool, closing the child's
  /// copies of the worker sockets (no lock, no loop).
  void forget_after_fork() noexcept;

private:
  event_loop& loop_; // the node's service loop
  worker_starter start_;
  bool attached_ = false;

  // Loop-only state.
  std::deque<job> pending_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::shared_ptr<shm_segment> slots_;
  std::vector<bool> slot_used_;
  std::unordered_map<any_fn, std::uint32_t> fn_index_;
  std::vector<code_location> fn_table_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_worker_ = 1;
  double avg_ns_ = 0;
  bool step_posted_ = false;
  bool ending_ = false; // stopping its workers: no more steps
  bool over_ = false;   // finished: nothing of the loop refers to it
  event_loop::timer_id deadline_timer_ = 0;
  clock::time_point deadline_at_ = clock::time_point::max();

  // Scheduling (supervisor.cpp).
  void start_worker();
  std::uint32_t define(any_fn fn);
  void dispatch();
  void flush(worker& w);
  void read_from(worker& w);
  bool handle(worker& w, const char* p, std::size_t size);
  void reap(worker& w);
  void fail(job& j, std::exception_ptr e);
  void publish_pids();
  bool idle() const;
  std::size_t idle_workers() const; // running nothing and able to take a task

  // On the loop (pool/loop.cpp).
  void step() noexcept;
  void schedule_step();
  void on_socket(worker& w, std::uint32_t events);
  void watch_workers();
  void unwatch_socket(worker& w) noexcept;
  void await_exit(worker& w);
  void on_exited(worker& w) noexcept;
  void check_deadlines();
  void arm_deadline();
  void begin_end(bool close_sockets);
  void maybe_finish();
};

/// Registers the pools' node hooks (node stop, fork child); idempotent.
void register_pool_node_hooks() noexcept;

} // namespace actors::detail
