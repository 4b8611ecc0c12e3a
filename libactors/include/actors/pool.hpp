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
/// Threads: the supervisor is one thread per pool. Result callbacks,
/// error callbacks, done callbacks and progress callbacks run on it, so they
/// must be quick and must not wait for other results of the same pool.

#include <actors/detail/pool_core.hpp>
#include <actors/future.hpp>
#include <actors/process.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace actors {

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

namespace detail {

template <class F>
using traits_of = callable_traits<std::decay_t<F>>;

template <class F>
constexpr bool check_task_function() {
  static_assert(traits_of<F>::valid,
                "actors::pool: the function must be a free function, a function pointer or "
                "a lambda without captures");
  return traits_of<F>::valid;
}

template <class R>
constexpr bool check_result() {
  static_assert(is_serializable_v<stored_t<R>>,
                "actors::pool: the function's result type is not serializable with Cereal");
  return is_serializable_v<stored_t<R>>;
}

/// The items of a range, for map and starmap.
template <class T, class Range>
std::vector<T> collect(const Range& items) {
  std::vector<T> out;
  for (auto&& item : items)
    out.emplace_back(item);
  return out;
}

/// Encodes items [first, first + n) as a std::vector<T> would be.
template <class T>
std::string encode_slice(const T* first, std::size_t n) {
  std::string out;
  output_archive ar(out);
  ar(static_cast<cereal::size_type>(n));
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
    ar.saveBinary(first, n * sizeof(T));
  else
    for (std::size_t i = 0; i < n; ++i)
      ar(first[i]);
  return out;
}

/// A map's future: puts the chunks' results in place, reports progress.
template <class R>
class map_state : public result_state<std::vector<stored_t<R>>> {
public:
  using item_t = stored_t<R>;
  map_state(std::vector<std::size_t> sizes, progress_fn progress)
    : sizes_(std::move(sizes)), left_(sizes_.size()), progress_(std::move(progress)),
      start_(std::chrono::steady_clock::now()) {
    for (auto n : sizes_) {
      offsets_.push_back(total_);
      total_ += n;
    }
    if constexpr (in_place)
      all_.resize(total_);
    else
      parts_.resize(sizes_.size());
    if (left_ == 0)
      this->set({});
  }

  void deliver(std::size_t part, const char* data, std::size_t size) override {
    auto n = sizes_[part];
    if constexpr (std::is_arithmetic_v<item_t> && !std::is_same_v<item_t, bool>) {
      // The bytes of a vector of numbers are its count and its elements:
      // copied straight into place.
      std::uint64_t count = 0;
      if (size != sizeof count + n * sizeof(item_t)
          || (std::memcpy(&count, data, sizeof count), count != n))
        throw error(errc::bad_payload, "a map chunk came back with the wrong number of results");
      std::memcpy(all_.data() + offsets_[part], data + sizeof count, n * sizeof(item_t));
    } else {
      auto items = decode<std::vector<item_t>>(data, size);
      if (items.size() != n)
        throw error(errc::bad_payload, "a map chunk came back with the wrong number of results");
      if constexpr (in_place)
        std::move(items.begin(), items.end(), all_.begin() + static_cast<long>(offsets_[part]));
      else
        parts_[part] = std::move(items);
    }
    done_ += n;
    report(--left_ == 0);
    if (left_ > 0)
      return;
    if constexpr (!in_place) {
      all_.reserve(total_);
      for (auto& p : parts_)
        std::move(p.begin(), p.end(), std::back_inserter(all_));
      parts_.clear();
    }
    this->set(std::move(all_));
  }

private:
  static constexpr bool in_place = std::is_default_constructible_v<item_t>;

  void report(bool last) {
    if (!progress_)
      return;
    auto now = std::chrono::steady_clock::now();
    if (!last && now - last_report_ < std::chrono::milliseconds(100))
      return;
    last_report_ = now;
    progress_info info;
    info.done = done_;
    info.total = total_;
    info.elapsed = std::chrono::duration<double>(now - start_).count();
    info.rate = info.elapsed > 0 ? static_cast<double>(done_) / info.elapsed : 0;
    info.eta = info.rate > 0 ? static_cast<double>(total_ - done_) / info.rate : -1;
    progress_(info);
  }

  std::vector<std::size_t> sizes_, offsets_;
  std::vector<item_t> all_;
  std::vector<std::vector<item_t>> parts_; // when item_t has no default constructor
  std::size_t left_;
  std::uint64_t total_ = 0, done_ = 0;
  progress_fn progress_;
  std::chrono::steady_clock::time_point start_, last_report_{};
};

/// Submits one job for a single call, or fails the future if its arguments
/// do not encode. `prepare(future)` runs first (it attaches callbacks, which
/// then run on the supervisor even for a job that finishes at once).
template <class R, class Prepare>
future<R> submit_one(pool_core& core, any_fn fn, task_runner runner,
                     std::string (*encoder)(const void*), const void* args,
                     const job_label& label, duration timeout, int retries, Prepare&& prepare) {
  auto state = std::make_shared<result_state<R>>();
  {
    future<R> f(state);
    prepare(f);
  }
  job j;
  j.fn = fn;
  j.runner = runner;
  j.sink = state;
  j.label = label;
  j.timeout = timeout;
  j.retries = retries;
  try {
    j.payload = std::make_shared<const std::string>(encoder(args));
  } catch (const error& e) {
    state->fail(0, std::make_exception_ptr(
                     error(errc::bad_payload, label.text() + ": its arguments could not be "
                                                "encoded: " + e.what())));
    return future<R>(state);
  } catch (const std::exception& e) {
    state->fail(0, std::make_exception_ptr(
                     error(errc::bad_payload, label.text() + ": its arguments could not be "
                                                "encoded: " + e.what())));
    return future<R>(state);
  }
  std::vector<job> jobs;
  jobs.push_back(std::move(j));
  submit(core, std::move(jobs));
  return future<R>(state);
}

} // namespace detail

template <class R>
class imap_result;

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

  /// For the executor and imap: the supervisor's side.
  const std::shared_ptr<detail::pool_core>& core() const noexcept { return core_; }

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
          add_callbacks<R>(f, std::get<arity + J>(all)...);
        else
          (void) f, (void) all;
      });
  }

  template <class R, class Callback>
  static void add_callbacks(future<R>& f, Callback cb) {
    add_callbacks<R>(f, std::move(cb), nullptr);
  }
  template <class R, class Callback, class ErrorCallback>
  static void add_callbacks(future<R>& f, Callback cb, ErrorCallback ecb) {
    f.add_done_callback([cb = std::move(cb), ecb = std::move(ecb)](const future<R>& done) mutable {
      auto e = done.state()->error();
      if (!e) {
        if constexpr (!std::is_same_v<Callback, std::nullptr_t>) {
          if constexpr (std::is_void_v<R>)
            cb();
          else
            cb(done.get());
        }
        return;
      }
      if constexpr (!std::is_same_v<ErrorCallback, std::nullptr_t>) {
        try {
          std::rethrow_exception(e);
        } catch (const error& err) {
          ecb(err);
        }
      }
    });
  }

  template <class R, class T>
  future<std::vector<detail::stored_t<R>>> submit_chunks(const T* items, std::size_t n,
                                                         const char* kind, detail::any_fn fn,
                                                         detail::task_runner runner,
                                                         const task_options& options) {
    std::size_t chunk = options.chunksize_ > 0 ? options.chunksize_
                                               : detail::default_chunksize(n, size());
    std::vector<std::size_t> sizes;
    for (std::size_t first = 0; first < n; first += chunk)
      sizes.push_back(std::min(chunk, n - first));
    auto state = std::make_shared<detail::map_state<R>>(sizes, options.progress_);
    future<std::vector<detail::stored_t<R>>> f(state);
    std::vector<detail::job> jobs(sizes.size());
    auto timeout = timeout_for(options);
    int retries = retries_for(options);
    try {
      for (std::size_t i = 0, first = 0; i < sizes.size(); first += sizes[i], ++i) {
        auto& j = jobs[i];
        j.fn = fn;
        j.runner = runner;
        j.payload = std::make_shared<const std::string>(detail::encode_slice(items + first, sizes[i]));
        j.sink = state;
        j.part = i;
        j.label = {kind, i, first, sizes[i]};
        j.timeout = timeout;
        j.retries = retries;
      }
    } catch (const std::exception& e) {
      state->fail(0, std::make_exception_ptr(error(
                       errc::bad_payload,
                       std::string(kind) + ": an item could not be encoded: " + e.what())));
      return f;
    }
    if (!jobs.empty())
      detail::submit(*core_, std::move(jobs));
    return f;
  }

  // imap's machinery; `Star`: the items are tuples of fn's arguments (the
  // executor's map over several ranges).
  template <bool Star = false, class F, class Range>
  auto make_imap(F&& fn, Range&& items, const task_options& options, bool ordered);
  friend class process_pool_executor;

  std::shared_ptr<detail::pool_core> core_;
  std::uint64_t next_index_ = 0;
};

namespace detail {

/// The shared side of an imap: chunks come back here; the caller's thread
/// reads them, and tops up the chunks in flight from the input.
template <class R>
class imap_state : public job_sink {
public:
  using item_t = stored_t<R>;
  bool claim(std::size_t) override { return true; }
  void deliver(std::size_t part, const char* data, std::size_t size) override {
    auto items = decode<std::vector<item_t>>(data, size);
    std::lock_guard<std::mutex> lock(mtx);
    ready.emplace(part, std::move(items));
    order.push_back(part);
    cv.notify_all();
  }
  void fail(std::size_t part, std::exception_ptr e) override {
    std::lock_guard<std::mutex> lock(mtx);
    ready.emplace(part, e);
    order.push_back(part);
    cv.notify_all();
  }

  std::mutex mtx;
  std::condition_variable cv;
  std::map<std::size_t, std::variant<std::vector<item_t>, std::exception_ptr>> ready;
  std::deque<std::size_t> order; // parts in the order they finished
};

} // namespace detail

/// The lazy result of imap/imap_unordered: `next()` or a range-for loop.
template <class R>
class imap_result {
public:
  using item_t = detail::stored_t<R>;

  /// The next result, or nullopt at the end. Throws timeout_error after
  /// `timeout` (the result is still returned by a later call), the task's
  /// error for a chunk that failed (iteration may go on after it), and
  /// keyboard_interrupt. If reading the input threw, the results of the
  /// items before it come first, then next() throws that exception once,
  /// then the iteration ends (as in Python).
  std::optional<item_t> next(duration timeout = forever) {
    auto deadline = std::min(detail::deadline_in(timeout), deadline_);
    for (;;) {
      if (pos_ < current_.size())
        return std::move(current_[pos_++]);
      top_up();
      if (consumed_ == submitted_ && exhausted_) {
        if (input_error_)
          std::rethrow_exception(std::exchange(input_error_, nullptr));
        return std::nullopt;
      }
      std::unique_lock<std::mutex> lock(state_->mtx);
      auto available = [&] {
        return ordered_ ? state_->ready.count(consumed_) > 0 : !state_->order.empty();
      };
      if (!detail::wait_interruptibly(lock, state_->cv, deadline, available))
        throw timeout_error("imap: the next result is not ready yet");
      std::size_t part;
      if (ordered_) {
        part = consumed_;
      } else {
        part = state_->order.front();
      }
      state_->order.erase(std::find(state_->order.begin(), state_->order.end(), part));
      auto node = state_->ready.extract(part);
      lock.unlock();
      ++consumed_;
      pos_ = 0;
      if (auto* e = std::get_if<std::exception_ptr>(&node.mapped())) {
        current_.clear();
        std::rethrow_exception(*e);
      }
      current_ = std::move(std::get<0>(node.mapped()));
    }
  }

  /// From now on next() throws timeout_error once `deadline` has passed
  /// (the executor's map(timeout)).
  void set_deadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }

  class iterator {
  public:
    using value_type = item_t;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    using pointer = item_t*;
    using reference = item_t&;
    iterator() = default;
    explicit iterator(imap_result* owner) : owner_(owner) { ++*this; }
    item_t& operator*() { return *value_; }
    item_t* operator->() { return &*value_; }
    iterator& operator++() {
      value_ = owner_->next();
      if (!value_)
        owner_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& o) const { return owner_ == o.owner_; }
    bool operator!=(const iterator& o) const { return owner_ != o.owner_; }

  private:
    imap_result* owner_ = nullptr;
    std::optional<item_t> value_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

  /// For the pool.
  using chunk_source = std::function<std::optional<std::string>(std::uint64_t& first,
                                                                std::uint64_t& count)>;
  imap_result(std::shared_ptr<detail::pool_core> core, chunk_source source, detail::any_fn fn,
              detail::task_runner runner, const char* kind, bool ordered, std::size_t window,
              duration timeout, int retries)
    : core_(std::move(core)), source_(std::move(source)), fn_(fn), runner_(runner), kind_(kind),
      ordered_(ordered), window_(window), timeout_(timeout), retries_(retries),
      state_(std::make_shared<detail::imap_state<R>>()) {
    top_up();
  }

private:
  void top_up() {
    std::vector<detail::job> jobs;
    while (!exhausted_ && submitted_ + jobs.size() - consumed_ < window_) {
      std::uint64_t first = 0, count = 0;
      std::optional<std::string> payload;
      try {
        payload = source_(first, count);
      } catch (...) {
        // The input threw: next() throws it after the results before it.
        input_error_ = std::current_exception();
      }
      if (!payload) {
        exhausted_ = true;
        break;
      }
      detail::job j;
      j.fn = fn_;
      j.runner = runner_;
      j.payload = std::make_shared<const std::string>(std::move(*payload));
      j.sink = state_;
      j.part = submitted_ + jobs.size();
      j.label = {kind_, j.part, first, count};
      j.timeout = timeout_;
      j.retries = retries_;
      jobs.push_back(std::move(j));
    }
    submitted_ += jobs.size();
    if (!jobs.empty())
      detail::submit(*core_, std::move(jobs));
  }

  std::shared_ptr<detail::pool_core> core_;
  chunk_source source_;
  detail::any_fn fn_;
  detail::task_runner runner_;
  const char* kind_;
  bool ordered_;
  std::size_t window_;
  duration timeout_;
  int retries_;
  std::shared_ptr<detail::imap_state<R>> state_;
  std::uint64_t submitted_ = 0, consumed_ = 0;
  bool exhausted_ = false;
  std::exception_ptr input_error_; // what reading the input threw, for next()
  std::vector<item_t> current_;
  std::size_t pos_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

namespace detail {

template <class G, class = void>
struct is_generator : std::false_type {};
template <class G>
struct is_generator<G, std::void_t<decltype(std::declval<G&>()().has_value())>>
  : std::true_type {};

/// Pulls items from a range or a generator, one at a time. An lvalue range
/// is referred to; an rvalue one is owned.
template <class P, class Range,
          bool Generator = is_generator<std::remove_reference_t<Range>>::value>
class item_source {
public:
  explicit item_source(Range&& r) : range_(std::forward<Range>(r)) {}
  std::optional<P> pull() {
    if (!it_)
      it_.emplace(std::begin(range_));
    if (*it_ == std::end(range_))
      return std::nullopt;
    P v(**it_);
    ++*it_;
    return v;
  }

private:
  Range range_;
  std::optional<decltype(std::begin(std::declval<std::remove_reference_t<Range>&>()))> it_;
};

/// Python's zip() as a generator: tuples of the ranges' items side by side,
/// ending with the shortest range. An lvalue range is referred to; an rvalue
/// one is owned.
template <class... Ranges>
class zip_generator {
  template <class R>
  using iterator_of = decltype(std::begin(std::declval<std::remove_reference_t<R>&>()));

public:
  explicit zip_generator(Ranges&&... ranges) : ranges_(std::forward<Ranges>(ranges)...) {}
  auto operator()() { return next(std::index_sequence_for<Ranges...>{}); }

private:
  template <std::size_t... I>
  std::optional<std::tuple<std::decay_t<decltype(*std::declval<iterator_of<Ranges>&>())>...>>
  next(std::index_sequence<I...>) {
    if (!its_)
      its_.emplace(std::begin(std::get<I>(ranges_))...);
    if (((std::get<I>(*its_) == std::end(std::get<I>(ranges_))) || ...))
      return std::nullopt;
    std::tuple<std::decay_t<decltype(*std::declval<iterator_of<Ranges>&>())>...> items(
      *std::get<I>(*its_)...);
    (++std::get<I>(*its_), ...);
    return items;
  }

  std::tuple<Ranges...> ranges_;
  std::optional<std::tuple<iterator_of<Ranges>...>> its_;
};

template <class T, class = void>
struct is_range : std::false_type {};
template <class T>
struct is_range<T, std::void_t<decltype(std::begin(std::declval<T&>()))>> : std::true_type {};

/// How many of Ts, from the first, are ranges.
template <class... Ts>
constexpr std::size_t leading_ranges() {
  constexpr bool range[] = {is_range<std::remove_reference_t<Ts>>::value..., false};
  std::size_t n = 0;
  while (range[n])
    ++n;
  return n;
}

template <class P, class Generator>
class item_source<P, Generator, true> {
public:
  explicit item_source(Generator&& g) : gen_(std::forward<Generator>(g)) {}
  std::optional<P> pull() {
    auto v = gen_();
    if (!v)
      return std::nullopt;
    return P(std::move(*v));
  }

private:
  Generator gen_;
};

} // namespace detail

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
