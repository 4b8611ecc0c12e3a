// actors::pool's untyped side (actors/detail/pool_core.hpp): starting a
// pool, submitting jobs, closing and joining it; and the progress bar.

#include <actors/detail/pool_core.hpp>
#include <actors/detail/queue_client.hpp>
#include <actors/detail/shm.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "io/service_loop.hpp"
#include "io/wire.hpp"
#include "pool/protocol.hpp"
#include "pool/supervisor.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>

namespace actors::detail {

task_phase& current_phase() noexcept {
  thread_local task_phase phase = task_phase::running;
  return phase;
}

std::string job_label::text() const {
  if (count == 0)
    return std::string(kind) + " #" + std::to_string(index);
  return std::string(kind) + " chunk " + std::to_string(index) + " (items "
         + std::to_string(first) + ".." + std::to_string(first + count - 1) + ")";
}

owned_fds::owned_fds(const std::vector<int>& borrowed) {
  for (int fd : borrowed) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
      throw_errno("dup of an initializer argument's descriptor");
    fds.push_back(copy);
  }
}

owned_fds::~owned_fds() {
  for (int fd : fds)
    ::close(fd);
}

std::size_t default_chunksize(std::size_t n, int workers) noexcept {
  auto parts = static_cast<std::size_t>(std::max(1, workers)) * 4;
  return std::max<std::size_t>(1, n / parts + (n % parts ? 1 : 0));
}


// -- the pool's public side ------------------------------------------------------

namespace {
weak_registry<pool_core> pools;

void pool_stats_of(node_stats& s) {
  pools.each([&s](pool_core& p, bool) {
    pool_stats ps;
    ps.size = p.cfg.processes;
    {
      std::lock_guard<std::mutex> l(p.mtx);
      ps.workers = p.pids;
      ps.restarts = p.restarts;
      ps.queued = p.inbox.size();
    }
    ps.queued += p.queued.load();
    ps.running = p.running.load();
    ps.done = p.done.load();
    s.pools.push_back(std::move(ps));
  });
}
} // namespace

std::shared_ptr<pool_core> start_pool(pool_config config) {
  if (config.processes < 0)
    throw error(errc::bad_argument,
                "pool: the number of worker processes (processes, max_workers) must be at "
                "least 1, or 0 for cpu_count(); got " + std::to_string(config.processes));
  if (config.maxtasksperchild < 0)
    throw error(errc::bad_argument,
                "pool: maxtasksperchild must be at least 1, or 0 to keep workers for the "
                "pool's life; got " + std::to_string(config.maxtasksperchild));
  if (config.max_retries < 0)
    throw error(errc::bad_argument, "pool: max_retries must not be negative");
  require_node().ensure_forkserver();
  catch_sigint();
  register_pool_node_hooks();
  auto core = std::make_shared<pool_core>(std::move(config));
  start_control_endpoint(); // actors-top can watch the pool
  core->start_initial_workers();
  core->attach();
  static bool registered = (add_stats_source(&pool_stats_of), true);
  (void) registered;
  pools.add(core);
  return core;
}

void submit(pool_core& p, std::vector<job> jobs) {
  std::exception_ptr broken;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(p.mtx);
    if (p.closed || p.terminating || p.finished)
      throw error(errc::closed, "the pool is closed: no new tasks after close() or terminate()");
    broken = p.broken;
    if (!broken) {
      bool was_empty = p.inbox.empty();
      for (auto& j : jobs)
        p.inbox.push_back(std::move(j));
      wake = was_empty && p.wakeable_locked(); // otherwise one is on its way already
    }
  }
  if (wake)
    p.wake();
  if (broken)
    for (auto& j : jobs)
      j.sink->fail(j.part, broken);
}

int pool_size(const pool_core& p) noexcept {
  return p.cfg.processes;
}

duration pool_task_timeout(const pool_core& p) noexcept {
  return p.cfg.task_timeout;
}

int pool_max_retries(const pool_core& p) noexcept {
  return p.cfg.max_retries;
}

std::vector<int> pool_pids(pool_core& p) {
  std::lock_guard<std::mutex> lock(p.mtx);
  return p.pids;
}

std::uint64_t pool_restarts(pool_core& p) {
  std::lock_guard<std::mutex> lock(p.mtx);
  return p.restarts;
}

namespace {
void set_flag(pool_core& p, bool pool_core::*flag) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(p.mtx);
    p.*flag = true;
    wake = p.wakeable_locked();
  }
  if (wake)
    p.wake();
}
} // namespace

void pool_close(pool_core& p) {
  set_flag(p, &pool_core::closed);
}

void pool_cancel_pending(pool_core& p) {
  std::vector<job> keep;
  {
    std::lock_guard<std::mutex> lock(p.mtx);
    for (auto& j : p.inbox)
      if (!j.sink->cancel())
        keep.push_back(std::move(j));
    p.inbox = std::move(keep);
  }
  set_flag(p, &pool_core::cancel_pending);
}

namespace {
// join() and terminate() wait for the supervisor, which runs on the
// service loop: not from that loop (a callback of any pool).
void refuse_on_supervisor(const char* call) {
  if (on_service_loop())
    throw error(errc::bad_argument, std::string("pool::") + call
                                      + " from a pool's callback would deadlock (callbacks "
                                        "run on the node's service loop, which runs the pools' "
                                        "supervisors)");
}
} // namespace

void pool_terminate(pool_core& p) {
  refuse_on_supervisor("terminate");
  set_flag(p, &pool_core::terminating);
  pool_join(p, forever);
}

void pool_terminate_workers(pool_core& p, bool kill) {
  refuse_on_supervisor(kill ? "kill_workers" : "terminate_workers");
  pool_cancel_pending(p); // before terminating: the supervisor cancels first
  if (kill) {
    std::lock_guard<std::mutex> lock(p.mtx);
    p.kill_workers = true;
  }
  set_flag(p, &pool_core::terminating);
  pool_join(p, forever);
}

bool pool_join(pool_core& p, duration timeout) {
  refuse_on_supervisor("join");
  std::unique_lock<std::mutex> lock(p.mtx);
  if (!p.closed && !p.terminating)
    throw error(errc::bad_argument, "pool::join: call close() or terminate() first");
  return p.finished_cv.wait_until(lock, deadline_in(timeout), [&] { return p.finished; });
}

// -- progress bar -----------------------------------------------------------------

namespace {
std::string human(double v) {
  char b[32];
  if (v >= 1e6)
    std::snprintf(b, sizeof b, "%.1fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(b, sizeof b, "%.1fk", v / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}
} // namespace

progress_fn progress_bar_on(int fd) {
  return [fd](const progress_info& p) {
    std::string line = "\r";
    if (p.total > 0) {
      constexpr int width = 30;
      auto filled = static_cast<int>(width * static_cast<double>(p.done) / static_cast<double>(p.total));
      line += "[" + std::string(static_cast<std::size_t>(filled), '#')
              + std::string(static_cast<std::size_t>(width - filled), ' ') + "] ";
      line += std::to_string(p.done) + "/" + std::to_string(p.total);
    } else {
      line += std::to_string(p.done) + " done";
    }
    line += "  " + human(p.rate) + "/s";
    if (p.eta >= 0 && p.done < p.total)
      line += "  ETA " + human(p.eta) + "s";
    line += p.total > 0 && p.done >= p.total ? "\n" : "   ";
    write_all(fd, line.data(), line.size());
  };
}

} // namespace actors::detail
