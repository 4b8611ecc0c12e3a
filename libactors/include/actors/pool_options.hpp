#pragma once
/// @file pool_options.hpp
/// The options of an actors::pool (`pool_options`) and of one of its maps or
/// tasks (`task_options`), set by chaining:
/// `actors::pool pool(actors::pool_options().processes(4).maxtasksperchild(100));`
/// `pool.map(f, xs, actors::task_options().chunksize(100).progress(actors::progress_bar()));`
/// Both are plain values: copy them, keep them, use them from any thread.

#include <actors/detail/pool_core.hpp>
#include <actors/process.hpp>
#include <actors/progress.hpp>
#include <actors/time.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace actors {

class pool;

/// A progress callback that draws `[#####     ] 500/1000  12.3k/s  ETA 4s`
/// on stderr, refreshed at most 10 times a second. Python users reach for
/// tqdm here.
inline std::function<void(const progress_info&)> progress_bar() {
  return detail::progress_bar_on(2);
}

/// Options of one map or task; chain them:
/// `actors::task_options().chunksize(100).progress(actors::progress_bar())`.
class task_options {
public:
  /// Items per chunk. 0 (default): Python's rule for map (about 4 chunks per
  /// worker), 1 for imap.
  task_options& chunksize(std::size_t n) { chunksize_ = n; return *this; }
  /// A task (or chunk) running longer than this is stopped: its worker is
  /// killed and replaced, and only that future fails, with timeout_error.
  task_options& timeout(duration d) { timeout_ = d; return *this; }
  /// Runs a task again, up to n times, when its worker dies (overrides the
  /// pool's max_retries).
  task_options& max_retries(int n) { max_retries_ = n; return *this; }
  /// Called as items finish (map, starmap, imap), at most every 100 ms and
  /// once at the end.
  task_options& progress(detail::progress_fn fn) { progress_ = std::move(fn); return *this; }
  /// imap: chunks in flight at once (default 4 per worker). Memory stays
  /// bounded by it, whatever the length of the input.
  task_options& max_in_flight(std::size_t n) { max_in_flight_ = n; return *this; }

private:
  friend class pool;
  std::size_t chunksize_ = 0;
  duration timeout_ = forever;
  std::optional<int> max_retries_;
  detail::progress_fn progress_;
  std::size_t max_in_flight_ = 0;
};

/// Options of a pool; chain them:
/// `actors::pool_options().processes(4).maxtasksperchild(100)`.
class pool_options {
public:
  /// Worker processes; 0 (default): cpu_count(). Negative: the pool throws
  /// errc::bad_argument (Python raises ValueError).
  pool_options& processes(int n) { config_.processes = n; return *this; }
  /// How workers start (default: get_start_method()).
  pool_options& method(start_method m) { method_ = m; return *this; }
  /// A worker exits after this many tasks (map chunks count one each) and
  /// is replaced once it has exited, so the pool never runs more than its
  /// size; 0 (default, Python's None) keeps workers for the pool's life.
  /// Negative: the pool throws errc::bad_argument (Python raises ValueError).
  pool_options& maxtasksperchild(std::int64_t n) { config_.maxtasksperchild = n; return *this; }
  /// Runs a task again, up to n times, when its worker dies (default 0: the
  /// task fails with worker_died).
  pool_options& max_retries(int n) { config_.max_retries = n; return *this; }
  /// Workers start as tasks need them rather than all at once: a task starts
  /// a new worker only if no worker is idle and fewer than processes() run
  /// (ProcessPoolExecutor's way since Python 3.9; the executor always does
  /// this). Default false: the pool starts every worker at once, as Pool.
  pool_options& on_demand(bool yes = true) { config_.on_demand = yes; return *this; }
  /// Spreads the workers over these hosts of the cluster (cluster.hpp),
  /// in turn: `hosts({"root", "h2"})` with processes(4) runs two workers on
  /// each. A worker on another host is a process of that host's node; its
  /// tasks and results cross through the cluster's gateways. When that host
  /// dies or is cut off, the task its worker was running fails with
  /// worker_died (or runs again, on any host, under max_retries), the rest
  /// go back to the queue, and the worker is started again in turn. Empty
  /// (default): every worker runs on this host. An initializer whose
  /// arguments carry descriptors cannot cross hosts (errc::bad_argument).
  pool_options& hosts(std::vector<std::string> names) { config_.hosts = std::move(names); return *this; }
  /// Default per-task timeout (see task_options::timeout).
  pool_options& task_timeout(duration d) { config_.task_timeout = d; return *this; }
  /// Every worker runs `fn(args...)` once before its first task. Arguments
  /// may be handles that carry descriptors (locks, values, pipe ends). If it
  /// throws, the pool is broken: every task fails with that remote_error
  /// (Python restarts such workers forever).
  template <class F, class... Args>
  pool_options& initializer(F&& fn, Args&&... args) {
    auto inv = detail::make_invocation(std::forward<F>(fn), std::forward<Args>(args)...);
    init_fds_ = std::make_shared<detail::owned_fds>(inv.fds);
    inv.fds = init_fds_->fds;
    config_.initializer = std::move(inv);
    return *this;
  }

  /// The settings, for the pool.
  detail::pool_config config() const {
    auto c = config_;
    c.method = method_ ? *method_ : get_start_method();
    c.initializer_fds = init_fds_;
    return c;
  }

private:
  detail::pool_config config_;
  std::optional<start_method> method_;
  std::shared_ptr<detail::owned_fds> init_fds_;
};

} // namespace actors
