#pragma once
// A pool's supervisor: the pool_core behind actors::pool. Never installed.
//
// Supervisor. One thread per pool; all scheduling state is touched only by
// it (an actor in all but name, driven by a poll loop over an eventfd for
// new jobs and one socket per worker). It sends each worker a window of
// jobs (about 2 ms of work, from the measured task time), reads results in
// order, and completes the jobs' sinks.
//
// Worker death. Each worker writes the id of the task it is running into
// its slot of a shared-memory array. When a worker's socket reaches EOF the
// supervisor reads every result it sent, reaps it, and looks at its slot:
// that task is the one that died with it (it fails with worker_died, or is
// retried); every other job it had been sent goes back to the head of the
// queue. A replacement is started at once.

#include <actors/detail/pool_core.hpp>
#include <actors/detail/shm.hpp>
#include <actors/process.hpp>

#include "base/fd.hpp"
#include "io/wire.hpp"
#include "pool/protocol.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace actors::detail {

struct sent_job {
  std::uint64_t id;
  job j;
};

struct worker {
  std::optional<process> proc;
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
};


class pool_core {
public:
  explicit pool_core(pool_config c);
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
  unique_fd wake;
  std::thread thread;

  void start_initial_workers();
  void run() noexcept;

private:
  // Supervisor-only state.
  std::deque<job> pending_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::shared_ptr<shm_segment> slots_;
  std::vector<bool> slot_used_;
  std::unordered_map<any_fn, std::uint32_t> fn_index_;
  std::vector<code_location> fn_table_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_worker_ = 1;
  double avg_ns_ = 0;

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
};

} // namespace actors::detail
