#pragma once
/// @file pool.hpp
/// `actors::pool`: Python's `multiprocessing.Pool`. A supervisor owns N
/// worker processes, hands them tasks and map chunks, and returns futures.
/// It survives its workers: one that dies mid-task is replaced, and only that
/// task fails (with worker_died) or is retried.
///
/// @code
/// int square(int x) { return x * x; }
///
/// int main() {
///   actors::node node;
///   actors::pool pool(4);
///   std::vector<int> xs{1, 2, 3, 4};
///   auto squares = pool.map(square, xs);         // {1, 4, 9, 16}
///   auto f = pool.apply_async(square, 7);
///   int r = f.get(std::chrono::seconds(1));      // 49
/// }
/// @endcode
///
/// Functions: free functions, function pointers or lambdas without captures
/// (as for actors::process); arguments and results must be serializable with
/// Cereal. Handles that carry descriptors (pipe ends, locks, values) cannot
/// be task arguments: give them to the workers once, through
/// pool_options::initializer.
///
/// Threads: a pool starts no thread. Its supervisor runs on the node's
/// service loop, one thread shared by every pool and queue of the process.
/// Result callbacks, error callbacks, done callbacks and progress callbacks
/// run there, where results are delivered, so they must be quick. They must
/// not wait for results (a future's get() or wait(), map(), join(),
/// terminate(): of any pool, they throw errc::bad_argument there instead of
/// deadlocking), nor for a queue this process created (the same loop serves
/// it: a get() that finds nothing fetched, a put() without room, qsize(),
/// join(), shutdown() and is_shutdown() throw errc::bad_argument there).

#include <actors/detail/pool_core.hpp>
#include <actors/detail/pool_jobs.hpp>
#include <actors/future.hpp>
#include <actors/imap.hpp>
#include <actors/pool_options.hpp>
#include <actors/process.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace actors {

class process_pool_executor;

/// A pool of worker processes (Python's multiprocessing.Pool).
/// - Blocks: map/starmap/apply until done; the destructor until workers
///   are gone.
/// - Throws: errc::closed after close()/terminate(); tasks' errors from get().
/// - Thread-safe: any thread may submit and wait.
class pool {
public:
  /// Starts `processes` workers (0: those of `options`, by default
  /// cpu_count()). Throws errc::bad_argument for a negative count (Python
  /// raises ValueError).
  explicit pool(int processes = 0, pool_options options = {})
    : pool(processes != 0 ? options.processes(processes) : options) {}

  explicit pool(const pool_options& options) : core_(detail::start_pool(options.config())) {}

  pool(pool&&) noexcept = default;
  pool& operator=(pool&&) = delete;
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  /// As leaving Python's `with Pool() as p:` block: terminate(), then join().
  ~pool() {
    if (core_) {
      detail::pool_terminate(*core_);
      detail::pool_join(*core_, forever);
    }
  }

  /// Runs `fn(args...)` in a worker and returns its result.
  /// \return R, fn's result type (nothing for void).
  template <class F, class... Args>
  auto apply(F&& fn, Args&&... args) {
    using async_t = decltype(apply_async(std::forward<F>(fn), std::forward<Args>(args)...));
    if constexpr (!std::is_void_v<async_t>) // void: a static_assert has spoken
      return apply_async(std::forward<F>(fn), std::forward<Args>(args)...).get();
  }

  /// Runs `fn(args...)` in a worker; returns at once with its future.
  /// Optionally pass, after the arguments, `callback(const R&)` (or `()` for
  /// void) and `error_callback(const actors::error&)`, as in Python.
  /// \return actors::future<R>, R being fn's result type (none_t for void).
  template <class F, class... Args>
  auto apply_async(F&& fn, Args&&... args) {
    constexpr bool ok = detail::check_task_function<F>();
    if constexpr (ok) {
      using traits = detail::traits_of<F>;
      constexpr std::size_t n = traits::arity;
      static_assert(sizeof...(Args) >= n && sizeof...(Args) <= n + 2,
                    "actors::pool::apply_async: pass the function's arguments, then "
                    "optionally a callback and an error callback");
      auto all = std::forward_as_tuple(std::forward<Args>(args)...);
      return apply_split(static_cast<typename traits::pointer>(fn), all, task_options(),
                         std::make_index_sequence<n>{},
                         std::make_index_sequence<sizeof...(Args) - n>{});
    }
  }

  /// apply_async with options (timeout, max_retries).
  /// \return actors::future<R>, as apply_async.
  template <class F, class... Args>
  auto apply_async_with(const task_options& options, F&& fn, Args&&... args) {
    constexpr bool ok = detail::check_task_function<F>();
    if constexpr (ok) {
      using traits = detail::traits_of<F>;
      static_assert(sizeof...(Args) == traits::arity,
                    "actors::pool::apply_async_with: the number of arguments does not match "
                    "the function's parameters");
      auto all = std::forward_as_tuple(std::forward<Args>(args)...);
      return apply_split(static_cast<typename traits::pointer>(fn), all, options,
                         std::make_index_sequence<traits::arity>{},
                         std::make_index_sequence<0>{});
    }
  }

  /// fn over every item, in chunks; the results in input order.
  /// \return std::vector<R>, R being fn's result type.
  template <class F, class Range>
  auto map(F&& fn, const Range& items, std::size_t chunksize = 0) {
    return map_async(std::forward<F>(fn), items, task_options().chunksize(chunksize)).get();
  }
  template <class F, class Range>
  auto map(F&& fn, const Range& items, const task_options& options) {
    return map_async(std::forward<F>(fn), items, options).get();
  }

  /// map() that returns at once with a future of all the results. It fails
  /// with the first chunk that fails.
  /// \return actors::future<std::vector<R>>.
  template <class F, class Range>
  auto map_async(F&& fn, const Range& items, std::size_t chunksize = 0) {
    return map_async(std::forward<F>(fn), items, task_options().chunksize(chunksize));
  }
  template <class F, class Range>
  auto map_async(F&& fn, const Range& items, const task_options& options) {
    constexpr bool ok = detail::check_task_function<F>();
    if constexpr (ok) {
      using traits = detail::traits_of<F>;
      static_assert(traits::arity == 1,
                    "actors::pool::map: the function must take exactly one argument (use "
                    "starmap for several)");
      using P = std::tuple_element_t<0, typename traits::args>;
      using R = typename traits::result;
      detail::check_result<R>();
      auto fp = static_cast<typename traits::pointer>(fn);
      auto runner = &detail::run_map<R, std::tuple_element_t<0, param_tuple<F>>>;
      auto fn_ptr = reinterpret_cast<detail::any_fn>(fp);
      if constexpr (std::is_same_v<Range, std::vector<P>>) // no copy of a vector of P
        return submit_chunks<R>(items.data(), items.size(), "map", fn_ptr, runner, options);
      else {
        auto all = detail::collect<P>(items);
        return submit_chunks<R>(all.data(), all.size(), "map", fn_ptr, runner, options);
      }
    }
  }

  /// fn(args...) for every tuple of arguments in `items` (Python's starmap).
  /// \return std::vector<R> (starmap_async: actors::future<std::vector<R>>).
  template <class F, class Range>
  auto starmap(F&& fn, const Range& items, std::size_t chunksize = 0) {
    return starmap_async(std::forward<F>(fn), items, task_options().chunksize(chunksize)).get();
  }
  template <class F, class Range>
  auto starmap_async(F&& fn, const Range& items, std::size_t chunksize = 0) {
    return starmap_async(std::forward<F>(fn), items, task_options().chunksize(chunksize));
  }
  template <class F, class Range>
  auto starmap_async(F&& fn, const Range& items, const task_options& options) {
    constexpr bool ok = detail::check_task_function<F>();
    if constexpr (ok) {
      using traits = detail::traits_of<F>;
      using R = typename traits::result;
      detail::check_result<R>();
      auto fp = static_cast<typename traits::pointer>(fn);
      auto all = detail::collect<typename traits::args>(items);
      return submit_chunks<R>(all.data(), all.size(), "starmap",
                              reinterpret_cast<detail::any_fn>(fp), starmap_runner<R>(fp),
                              options);
    }
  }

  /// fn over `items`, lazily: results in input order as they are consumed,
  /// with at most max_in_flight chunks running or waiting to be read. The
  /// range is read as results are consumed, so it may be endless or slow.
  /// An lvalue range must outlive the result; an rvalue is moved in.
  /// `items` may also be a generator: a callable returning
  /// std::optional<item> (nullopt ends it). An exception from the input is
  /// thrown by next() once the results before it are delivered, never by
  /// imap() itself.
  /// \return an imap_result of R: a range-for loop, or next(timeout), which
  /// gives std::nullopt at the end (Python's IMapIterator).
  template <class F, class Range>
  auto imap(F&& fn, Range&& items, const task_options& options = task_options()) {
    return make_imap(std::forward<F>(fn), std::forward<Range>(items), options, true);
  }
  template <class F, class Range>
  auto imap(F&& fn, Range&& items, std::size_t chunksize) {
    return imap(std::forward<F>(fn), std::forward<Range>(items),
                task_options().chunksize(chunksize));
  }

  /// imap() whose results come in the order they finish.
  /// \return the same range as imap(), in finishing order.
  template <class F, class Range>
  auto imap_unordered(F&& fn, Range&& items, const task_options& options = task_options()) {
    return make_imap(std::forward<F>(fn), std::forward<Range>(items), options, false);
  }
  template <class F, class Range>
  auto imap_unordered(F&& fn, Range&& items, std::size_t chunksize) {
    return imap_unordered(std::forward<F>(fn), std::forward<Range>(items),
                          task_options().chunksize(chunksize));
  }

  /// No more tasks; the workers exit once the queued ones are done.
  void close() { detail::pool_close(*core_); }

  /// Stops the workers now (SIGTERM, then SIGKILL after a second). Tasks
  /// that have not finished fail with errc::closed; nothing hangs.
  void terminate() { detail::pool_terminate(*core_); }

  /// Waits until every worker has exited; call close() or terminate()
  /// first (errc::bad_argument otherwise, as Python raises ValueError).
  /// Returns false after `timeout`.
  bool join(duration timeout = forever) { return detail::pool_join(*core_, timeout); }

  /// The number of workers the pool keeps.
  int size() const noexcept { return detail::pool_size(*core_); }
  /// The pids of the live workers.
  std::vector<int> pids() { return detail::pool_pids(*core_); }
  /// Workers replaced so far (deaths, timeouts, maxtasksperchild).
  std::uint64_t restarts() { return detail::pool_restarts(*core_); }

private:
  template <class F>
  using param_tuple = typename detail::fn_traits<typename detail::traits_of<F>::pointer>::params;

  // A call's options, or the pool's defaults.
  duration timeout_for(const task_options& o) const {
    return o.timeout_ == forever ? detail::pool_task_timeout(*core_) : o.timeout_;
  }
  int retries_for(const task_options& o) const {
    return o.max_retries_ ? *o.max_retries_ : detail::pool_max_retries(*core_);
  }

  template <class R, class... Ps>
  static detail::task_runner starmap_runner(R (*)(Ps...)) {
    return &detail::run_starmap<R, Ps...>;
  }
  template <class R, class... Ps>
  static detail::task_runner apply_runner(R (*)(Ps...)) {
    return &detail::run_apply<R, Ps...>;
  }

  template <class R, class... Ps, class All, std::size_t... I, std::size_t... J>
  auto apply_split(R (*fp)(Ps...), All& all, const task_options& options,
                   std::index_sequence<I...>, std::index_sequence<J...>) {
    detail::check_result<R>();
    using args_t = std::tuple<std::decay_t<Ps>...>;
    constexpr bool convertible = std::is_constructible_v<args_t, std::tuple_element_t<I, All>...>;
    static_assert(convertible, "actors::pool::apply_async: an argument cannot be converted to "
                               "the matching parameter type of the function");
    if constexpr (convertible) // else the static_assert's message stands alone
      return apply_checked<R>(fp, args_t(std::get<I>(all)...), all, options,
                              std::index_sequence<J...>{});
  }

  template <class R, class... Ps, class Args, class All, std::size_t... J>
  auto apply_checked(R (*fp)(Ps...), Args args, All& all, const task_options& options,
                     std::index_sequence<J...>) {
    using args_t = Args;
    constexpr std::size_t arity = sizeof...(Ps);
    auto label = detail::job_label{"apply_async", next_index_++};
    // The callbacks are attached before the job is sent, as Python's
    // ApplyResult holds them: attached after, a job that finished first
    // would run them on this thread instead of the supervisor.
    return detail::submit_one<R>(
      *core_, reinterpret_cast<detail::any_fn>(fp), apply_runner(fp),
      [](const void* a) { return detail::encode_task_args(*static_cast<const args_t*>(a)); }, &args,
      label, timeout_for(options), retries_for(options), [&all](future<R>& f) {
        constexpr std::size_t extras = sizeof...(J);
        if constexpr (extras > 0)
          detail::add_result_callbacks<R>(f, std::get<arity + J>(all)...);
        else
          (void) f, (void) all;
      });
  }

  template <class R, class T>
  auto submit_chunks(const T* items, std::size_t n, const char* kind, detail::any_fn fn,
                     detail::task_runner runner, const task_options& o) {
    std::size_t chunk = o.chunksize_ > 0 ? o.chunksize_ : detail::default_chunksize(n, size());
    return detail::submit_chunks<R>(*core_, items, n, chunk, kind, fn, runner, o.progress_,
                                    timeout_for(o), retries_for(o));
  }

  // imap's machinery; `Star`: the items are tuples of fn's arguments (the
  // executor's map over several ranges).
  template <bool Star = false, class F, class Range>
  auto make_imap(F&& fn, Range&& items, const task_options& options, bool ordered);
  friend class process_pool_executor;

  std::shared_ptr<detail::pool_core> core_;
  std::uint64_t next_index_ = 0;
};

template <bool Star, class F, class Range>
auto pool::make_imap(F&& fn, Range&& items, const task_options& options, bool ordered) {
  constexpr bool ok = detail::check_task_function<F>();
  if constexpr (ok) {
    using traits = detail::traits_of<F>;
    static_assert(Star || traits::arity == 1,
                  "actors::pool::imap: the function must take exactly one argument");
    using P = std::conditional_t<Star, typename traits::args,
                                 std::tuple_element_t<0, typename traits::args>>;
    using R = typename traits::result;
    detail::check_result<R>();
    auto fp = static_cast<typename traits::pointer>(fn);
    auto source = std::make_shared<detail::item_source<P, Range>>(std::forward<Range>(items));
    std::size_t chunk = options.chunksize_ > 0 ? options.chunksize_ : 1;
    // The input threw after some items of a chunk: they go out first, the
    // exception with the next call.
    auto failure = std::make_shared<std::exception_ptr>();
    auto pull = [source, chunk, failure](std::uint64_t& first, std::uint64_t& count,
                                         std::uint64_t& next_item) -> std::optional<std::string> {
      if (*failure)
        std::rethrow_exception(std::exchange(*failure, nullptr));
      std::vector<P> batch;
      auto pull_one = [&]() -> std::optional<P> {
        try {
          return source->pull();
        } catch (...) {
          if (batch.empty())
            throw;
          *failure = std::current_exception();
          return std::nullopt;
        }
      };
      while (batch.size() < chunk) {
        auto v = pull_one();
        if (!v)
          break;
        batch.push_back(std::move(*v));
      }
      if (batch.empty())
        return std::nullopt;
      first = next_item;
      count = batch.size();
      next_item += count;
      return detail::encode(batch);
    };
    auto counter = std::make_shared<std::uint64_t>(0);
    std::size_t window = options.max_in_flight_ > 0 ? options.max_in_flight_
                                                    : 4 * static_cast<std::size_t>(size());
    detail::task_runner runner;
    if constexpr (Star)
      runner = starmap_runner<R>(fp);
    else
      runner = &detail::run_map<R, std::tuple_element_t<0, param_tuple<F>>>;
    return imap_result<R>(
      core_,
      [pull, counter](std::uint64_t& first, std::uint64_t& count) {
        return pull(first, count, *counter);
      },
      reinterpret_cast<detail::any_fn>(fp), runner,
      ordered ? "imap" : "imap_unordered", ordered, window,
      timeout_for(options), retries_for(options));
  }
}

} // namespace actors
