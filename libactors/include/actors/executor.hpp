#pragma once
/// @file executor.hpp
/// `actors::process_pool_executor`: Python's
/// `concurrent.futures.ProcessPoolExecutor`, on the same supervisor as
/// actors::pool. Unlike Python's, it does not break when a worker dies: the
/// task that was running fails with worker_died, the worker is replaced,
/// and every other future goes on.
///
/// @code
/// actors::process_pool_executor ex(4);
/// std::vector<actors::future<int>> fs;
/// for (int i = 0; i < 10; ++i)
///   fs.push_back(ex.submit(square, i));
/// for (auto& f : actors::as_completed(fs))
///   std::cout << f.result() << '\n';
/// @endcode

#include <actors/future.hpp>
#include <actors/pool.hpp>

namespace actors {

class process_pool_executor {
public:
  /// An executor of up to `max_workers` workers (0: cpu_count(); negative:
  /// errc::bad_argument, as Python raises ValueError). Workers start on
  /// demand, as in Python 3.9+: submit() starts one only if no worker is
  /// idle and fewer than max_workers run; idle ones are reused (see
  /// pool_options::on_demand). Python's max_tasks_per_child, initializer and
  /// mp_context are pool_options().maxtasksperchild(n), .initializer(fn,
  /// args...) and .method(m).
  explicit process_pool_executor(int max_workers = 0, pool_options options = {})
    : pool_(max_workers, std::move(options.on_demand())) {}

  /// As leaving Python's `with ProcessPoolExecutor() as ex:` block:
  /// shutdown(true).
  ~process_pool_executor() { shutdown(true); }

  process_pool_executor(const process_pool_executor&) = delete;
  process_pool_executor& operator=(const process_pool_executor&) = delete;

  /// Schedules fn(args...); returns its future at once. Throws errc::closed
  /// after shutdown() (Python raises RuntimeError).
  /// \return actors::future<R>, R being fn's result type (none_t for void).
  template <class F, class... Args>
  auto submit(F&& fn, Args&&... args) {
    return pool_.apply_async_with(task_options(), std::forward<F>(fn),
                                  std::forward<Args>(args)...);
  }

  /// fn over `items`, results in input order, lazily (see pool::imap).
  /// Advancing throws timeout_error once `timeout` (counted from this call)
  /// has passed, and a task's error where that task's result would be.
  /// \return an input range of R, as pool::imap().
  template <class F, class Range>
  auto map(F&& fn, Range&& items, duration timeout = forever, std::size_t chunksize = 1) {
    auto r = pool_.imap(std::forward<F>(fn), std::forward<Range>(items),
                        task_options().chunksize(chunksize));
    r.set_deadline(detail::deadline_in(timeout));
    return r;
  }

  /// fn over several ranges side by side (Python's map(fn, *iterables)):
  /// fn(a[0], b[0], ...), fn(a[1], b[1], ...), ..., stopping at the end of
  /// the shortest range; fn takes one argument per range. The ranges may be
  /// followed by a timeout and a chunksize, as in the one-range map():
  /// `ex.map(add, xs, ys, 5s, 16)`. Lazy, results in input order; the ranges
  /// are read as results are consumed, so lvalue ranges must outlive the
  /// result (rvalues are moved in). Advancing throws as the one-range map().
  /// \return an input range of R, as pool::imap().
  template <class F, class First, class Second, class... Rest,
            std::enable_if_t<detail::is_range<std::remove_reference_t<Second>>::value, int> = 0>
  auto map(F&& fn, First&& first, Second&& second, Rest&&... rest) {
    using all = std::tuple<First, Second, Rest...>;
    constexpr std::size_t n = detail::leading_ranges<First, Second, Rest...>();
    constexpr std::size_t extra = std::tuple_size_v<all> - n;
    static_assert(extra <= 2, "process_pool_executor::map: after the ranges come at most a "
                              "timeout and a chunksize");
    static_assert(detail::traits_of<F>::arity == n,
                  "process_pool_executor::map: the function must take one argument per range");
    auto args = std::forward_as_tuple(std::forward<First>(first), std::forward<Second>(second),
                                      std::forward<Rest>(rest)...);
    duration timeout = forever;
    std::size_t chunksize = 1;
    if constexpr (extra >= 1)
      timeout = std::get<n>(args);
    if constexpr (extra == 2)
      chunksize = std::get<n + 1>(args);
    return map_zipped<all>(std::forward<F>(fn), args, timeout, chunksize,
                           std::make_index_sequence<n>{});
  }

  /// No more submissions. `cancel_futures`: futures that have not started
  /// are cancelled. `wait`: returns once every running task has finished
  /// and the workers have exited. Idempotent.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    if (cancel_futures)
      detail::pool_cancel_pending(*pool_.core_);
    pool_.close();
    if (wait)
      pool_.join();
  }

  /// Python 3.14's terminate_workers(): cancels the futures that have not
  /// started, sends SIGTERM to every worker, and shuts the executor down.
  /// - Futures that were running (or already sent to a worker) fail with
  ///   errc::closed ("the pool was terminated before ... finished"); the
  ///   others are cancelled (cancelled_error), as shutdown(false, true) does.
  /// - Blocks until every worker has exited: a worker that ignores SIGTERM
  ///   gets SIGKILL after a second (pool::terminate()'s path).
  /// - Idempotent; after shutdown() it only ends what still runs.
  /// - Throws errc::bad_argument from a future's callback (they run on the
  ///   node's service loop, which runs the pool this waits for); submit() afterwards
  ///   throws errc::closed.
  void terminate_workers() { detail::pool_terminate_workers(*pool_.core_, false); }

  /// Python 3.14's kill_workers(): as terminate_workers(), with SIGKILL, so
  /// workers cannot catch or ignore it and no grace second is spent.
  void kill_workers() { detail::pool_terminate_workers(*pool_.core_, true); }

  /// The pool underneath (pids, restarts...).
  pool& underlying_pool() noexcept { return pool_; }

private:
  template <class All, class F, class Args, std::size_t... I>
  auto map_zipped(F&& fn, Args& args, duration timeout, std::size_t chunksize,
                  std::index_sequence<I...>) {
    using zip = detail::zip_generator<std::tuple_element_t<I, All>...>;
    auto r = pool_.make_imap<true>(
      std::forward<F>(fn), zip(std::forward<std::tuple_element_t<I, All>>(std::get<I>(args))...),
      task_options().chunksize(chunksize), true);
    r.set_deadline(detail::deadline_in(timeout));
    return r;
  }

  pool pool_;
};

} // namespace actors
