#pragma once
/// @file future.hpp
/// `actors::future<T>`: the result of a task run by a pool, with both of
/// Python's faces: `AsyncResult` (get, wait, ready, successful) and
/// `concurrent.futures.Future` (result, exception, done, cancel, cancelled,
/// add_done_callback). `async_result<T>` is the same type.
///
/// @code
/// actors::pool pool(4);
/// auto f = pool.apply_async(square, 7);
/// f.get();                               // 49
/// f.get(std::chrono::seconds(1));        // throws timeout_error if not done
/// @endcode
///
/// A failed task's exception is always an actors::error: remote_error (the
/// task threw), worker_died (its worker process died), timeout_error (it ran
/// over its task timeout), cancelled_error, or error(errc::bad_payload) (the
/// result did not decode). A future made by an actors::future_source
/// (future_source.hpp) fails with whatever exception its source sets. A
/// waiting call throws keyboard_interrupt when SIGINT arrives.

#include <actors/detail/deadline.hpp>
#include <actors/detail/interrupt.hpp>
#include <actors/detail/job_sink.hpp>
#include <actors/detail/task_state.hpp>
#include <actors/errors.hpp>
#include <actors/none.hpp>
#include <actors/time.hpp>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <vector>

namespace actors {

template <class T>
class future;

namespace detail {

/// The library's way into a future: the state its task's owner fills in.
struct future_access {
  template <class T>
  static const std::shared_ptr<result_state<T>>& state(const future<T>& f) noexcept {
    return f.state_;
  }
};

} // namespace detail

/// The result of a task: a handle shared by its copies.
/// - Blocks: get(), result(), wait(), exception() until the task ends (or
///   the timeout).
/// - Thread-safe: any thread may wait on, or add callbacks to, a future.
template <class T>
class future {
public:
  future() = default;
  explicit future(std::shared_ptr<detail::result_state<T>> state) : state_(std::move(state)) {}

  /// The result; blocks until the task ended. Throws the task's error (see
  /// the file comment), timeout_error after `timeout`, cancelled_error,
  /// keyboard_interrupt. A successful result can be read many times.
  decltype(auto) get(duration timeout = forever) const& {
    if (!state_->wait(timeout))
      throw timeout_error("future::get: the task is not done yet");
    if (auto e = state_->error())
      std::rethrow_exception(e);
    if constexpr (!std::is_void_v<T>)
      return static_cast<const T&>(state_->value());
  }

  /// On a temporary future (`actor.ask(...).get()`, `for (auto& x :
  /// pool.apply_async(...).get())`) the result is returned by value, so it
  /// outlives the future.
  T get(duration timeout = forever) && { return static_cast<const future&>(*this).get(timeout); }

  /// Python's Future.result(timeout): the same as get().
  decltype(auto) result(duration timeout = forever) const& { return get(timeout); }
  T result(duration timeout = forever) && { return static_cast<const future&>(*this).get(timeout); }

  /// Waits until the task ended; false after `timeout` (AsyncResult.wait).
  bool wait(duration timeout = forever) const { return state_->wait(timeout); }

  /// True once the task ended, successfully or not (AsyncResult.ready,
  /// Future.done).
  bool ready() const { return state_->current() >= status::succeeded; }
  bool done() const { return ready(); }

  /// True if the task ended with a result. Throws errc::bad_argument while
  /// it has not ended, as Python raises ValueError.
  bool successful() const {
    if (!ready())
      throw error(errc::bad_argument, "future::successful: the task has not ended yet");
    return state_->current() == status::succeeded;
  }

  /// True while the task runs in a worker.
  bool running() const { return state_->current() == status::running; }

  /// Cancels a task that has not started; false if it runs or ended.
  bool cancel() { return state_->cancel(); }
  bool cancelled() const { return state_->current() == status::cancelled; }

  /// The task's error, or nullptr if it succeeded (Future.exception).
  /// Throws timeout_error after `timeout`, cancelled_error if cancelled.
  std::exception_ptr exception(duration timeout = forever) const {
    if (!state_->wait(timeout))
      throw timeout_error("future::exception: the task is not done yet");
    if (cancelled())
      std::rethrow_exception(state_->error());
    return state_->error();
  }

  /// Calls `fn(*this)` when the task ends, at once if it has. It runs where
  /// the task ends (for a pool task, the node's service loop) or in the
  /// caller's thread, so it must be quick and must not wait for results.
  template <class F>
  void add_done_callback(F fn) {
    // A weak reference: the state keeps its callbacks, so a strong one would
    // keep a future that never ends alive for good.
    state_->on_done([fn = std::move(fn), weak = std::weak_ptr(state_)]() mutable {
      if (auto s = weak.lock())
        fn(future(std::move(s)));
    });
  }

  bool valid() const noexcept { return state_ != nullptr; }

  /// True if both are handles to the same task's result.
  friend bool operator==(const future& a, const future& b) noexcept { return a.state_ == b.state_; }
  friend bool operator!=(const future& a, const future& b) noexcept { return !(a == b); }


private:
  friend struct detail::future_access;
  using status = detail::task_state::status;
  std::shared_ptr<detail::result_state<T>> state_;
};

namespace detail {
/// Writes `<actors::future STATE>` for operator<< (future.cpp).
std::ostream& describe_future(std::ostream& os, const task_state* state);
} // namespace detail

/// Python's repr of a Future: `<actors::future pending>`, `running`,
/// `finished` (with a result), `failed: WHAT` (what() of its exception),
/// `cancelled`; `<actors::future invalid>` for a default-constructed one.
/// A snapshot; thread-safe; never blocks.
template <class T>
std::ostream& operator<<(std::ostream& os, const future<T>& f) {
  return detail::describe_future(os, detail::future_access::state(f).get());
}

/// multiprocessing's name for the same thing.
template <class T>
using async_result = future<T>;

/// When wait() returns (concurrent.futures.FIRST_COMPLETED...).
enum class return_when { first_completed, first_exception, all_completed };

/// What wait() found: futures that ended, and the others.
template <class T>
struct wait_result {
  std::vector<future<T>> done;
  std::vector<future<T>> not_done;
};

namespace detail {

/// Counts futures as they end; shared by wait() and as_completed().
class completion_watch {
public:
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<std::size_t> ended; // indices, in the order they ended
  bool failure = false;
};

/// `fs` with each future once (copies of a future share its state), in the
/// order first seen: Python's wait() and as_completed() take set(fs).
template <class T>
std::vector<future<T>> distinct(const std::vector<future<T>>& fs) {
  std::unordered_set<const void*> seen;
  std::vector<future<T>> out;
  for (auto& f : fs)
    if (seen.insert(detail::future_access::state(f).get()).second)
      out.push_back(f);
  return out;
}

template <class T>
std::shared_ptr<completion_watch> watch(const std::vector<future<T>>& fs) {
  auto w = std::make_shared<completion_watch>();
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto f = fs[i];
    f.add_done_callback([w, i](const future<T>& done) {
      bool failed = !done.cancelled() && detail::future_access::state(done)->error() != nullptr;
      std::lock_guard<std::mutex> lock(w->mtx);
      w->ended.push_back(i);
      w->failure = w->failure || failed;
      w->cv.notify_all();
    });
  }
  return w;
}

} // namespace detail

/// Waits until `when` holds for `fs`, or `timeout`; returns the futures that
/// ended and those that did not (concurrent.futures.wait), each once even if
/// `fs` repeats it.
template <class T>
wait_result<T> wait(const std::vector<future<T>>& given,
                    return_when when = return_when::all_completed, duration timeout = forever) {
  auto fs = detail::distinct(given);
  auto w = detail::watch(fs);
  {
    std::unique_lock<std::mutex> lock(w->mtx);
    detail::wait_interruptibly(lock, w->cv, detail::deadline_in(timeout), [&] {
      return w->ended.size() == fs.size()
             || (when == return_when::first_completed && !w->ended.empty())
             || (when == return_when::first_exception && w->failure);
    });
  }
  wait_result<T> r;
  for (auto& f : fs)
    (f.done() ? r.done : r.not_done).push_back(f);
  return r;
}

/// The futures of `fs` in the order they end (concurrent.futures.as_completed):
/// `for (auto& f : actors::as_completed(fs, timeout))`. A future given more
/// than once is yielded once. Advancing throws timeout_error once `timeout`
/// (counted from this call) has passed with futures still running.
template <class T>
class as_completed {
public:
  explicit as_completed(const std::vector<future<T>>& fs, duration timeout = forever)
    : fs_(detail::distinct(fs)), deadline_(detail::deadline_in(timeout)),
      watch_(detail::watch(fs_)) {}

  /// The next future to end, or nullopt when all have been returned.
  std::optional<future<T>> next() {
    if (taken_ == fs_.size())
      return std::nullopt;
    std::unique_lock<std::mutex> lock(watch_->mtx);
    if (!detail::wait_interruptibly(lock, watch_->cv, deadline_,
                                    [&] { return watch_->ended.size() > taken_; }))
      throw timeout_error("as_completed: " + std::to_string(fs_.size() - taken_)
                          + " of " + std::to_string(fs_.size())
                          + " futures still running at the timeout");
    return fs_[watch_->ended[taken_++]];
  }

  class iterator {
  public:
    using value_type = future<T>;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    using pointer = const future<T>*;
    using reference = const future<T>&;
    iterator() = default;
    explicit iterator(as_completed* owner) : owner_(owner) { ++*this; }
    const future<T>& operator*() const { return *current_; }
    const future<T>* operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = owner_->next();
      if (!current_)
        owner_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& o) const { return owner_ == o.owner_; }
    bool operator!=(const iterator& o) const { return owner_ != o.owner_; }

  private:
    as_completed* owner_ = nullptr;
    std::optional<future<T>> current_;
  };

  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

private:
  std::vector<future<T>> fs_;
  std::chrono::steady_clock::time_point deadline_;
  std::shared_ptr<detail::completion_watch> watch_;
  std::size_t taken_ = 0;
};

} // namespace actors
