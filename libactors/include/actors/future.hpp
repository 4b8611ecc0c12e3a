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

#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
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

namespace detail {

/// A deadline `timeout` from now (max for forever).
std::chrono::steady_clock::time_point deadline_in(duration timeout) noexcept;

/// Waits on `cv` until `done()` or `deadline`, in slices, so that SIGINT
/// (see keyboard_interrupt) is noticed within 100 ms. Returns done(). Throws
/// keyboard_interrupt for a SIGINT that arrived while it waited, even if
/// done() became true in the same moment (it is never lost).
bool wait_interruptibly(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                        std::chrono::steady_clock::time_point deadline,
                        const std::function<bool()>& done);

/// True on a pool's supervisor thread, where callbacks run: waiting there for
/// a result that thread has yet to deliver would deadlock, so it throws.
bool& on_pool_supervisor() noexcept;

/// True on the transport thread that delivers actors' replies.
bool on_reply_loop() noexcept;

/// Makes SIGINT interrupt waiting pool calls (once per process, and only if
/// SIGINT has its default action).
void catch_sigint() noexcept;

/// Where a pool delivers what a task produced. `part` tells the pieces of a
/// map apart. Called from the pool's supervisor thread.
class job_sink {
public:
  virtual ~job_sink() = default;
  /// The task is about to be sent to a worker; false if it was cancelled.
  virtual bool claim(std::size_t part) = 0;
  /// The task's encoded result. May throw anything (a result that does not
  /// decode, even a type's load() throwing actors::system_exit): the pool
  /// then calls fail() with errc::bad_payload, naming what was thrown.
  virtual void deliver(std::size_t part, const char* data, std::size_t size) = 0;
  /// The task failed; `e` holds an actors::error.
  virtual void fail(std::size_t part, std::exception_ptr e) = 0;
  /// Cancels a job that has not started (executor shutdown); false if it
  /// cannot be.
  virtual bool cancel() { return false; }
};

/// What every future shares, whatever its T.
class task_state : public job_sink {
public:
  enum class status { pending, running, succeeded, failed, cancelled };

  bool claim(std::size_t part) override;
  void fail(std::size_t part, std::exception_ptr e) override;

  /// pending -> cancelled; false once the task runs or ended.
  bool cancel() override;
  /// Waits until the task ended; false on timeout. Throws keyboard_interrupt.
  bool wait(duration timeout);
  status current() const;
  std::exception_ptr error() const;
  /// Runs `fn` when the task ends (at once if it has), in the thread that
  /// ends it.
  void on_done(std::function<void()> fn);

  /// For future_source: pending -> running, true; false if cancelled.
  /// Throws errc::bad_argument if it runs or ended already.
  bool start_unless_cancelled();
  /// Ends the task with `s` and `e`; false (and nothing changes) if it had
  /// ended already.
  bool try_finish(status s, std::exception_ptr e = nullptr);

protected:
  /// Ends the task with `s`; runs callbacks outside the lock.
  void finish(status s, std::exception_ptr e = nullptr) { try_finish(s, std::move(e)); }
  /// Under mtx_: ends the task with `s` and `e` and hands its callbacks to
  /// settle(); false if it had ended already.
  bool end_locked(status s, std::exception_ptr e, std::vector<std::function<void()>>& callbacks);
  void settle(std::vector<std::function<void()>>& callbacks);

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  status status_ = status::pending;
  bool settled_ = false; // ended and its callbacks ran: waiters may go on
  std::exception_ptr error_;
  std::vector<std::function<void()>> callbacks_;
};

} // namespace detail

/// What a map over a function returning void yields for each item (Python's
/// None). One byte on the wire.
struct none_t {
  template <class Archive>
  void serialize(Archive& ar) {
    std::uint8_t zero = 0;
    ar(zero);
  }
  friend bool operator==(none_t, none_t) noexcept { return true; }
  friend bool operator!=(none_t, none_t) noexcept { return false; }
};

namespace detail {

using void_result = none_t;

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, void_result, T>;

template <class T>
class result_state : public task_state {
public:
  void deliver(std::size_t, const char* data, std::size_t size) override {
    try_set(decode<stored_t<T>>(data, size));
  }
  /// Sets the value directly (a map assembles its parts).
  void set(stored_t<T>&& value) { try_set(std::move(value)); }
  /// Ends the task with `value`; false (the value is dropped) if it had
  /// ended already.
  bool try_set(stored_t<T>&& value) {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mtx_);
      if (status_ >= status::succeeded)
        return false;
      value_.emplace(std::move(value));
      end_locked(status::succeeded, nullptr, callbacks);
    }
    settle(callbacks);
    return true;
  }
  stored_t<T>& value() { return *value_; }

private:
  std::optional<stored_t<T>> value_;
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

  /// Calls `fn(*this)` when the task ends, at once if it has. It runs in the
  /// pool's supervisor thread (or the caller's), so it must be quick.
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

  /// For the pool: the state its supervisor fills in.
  const std::shared_ptr<detail::result_state<T>>& state() const noexcept { return state_; }

private:
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
  return detail::describe_future(os, f.state().get());
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
    if (seen.insert(f.state().get()).second)
      out.push_back(f);
  return out;
}

template <class T>
std::shared_ptr<completion_watch> watch(const std::vector<future<T>>& fs) {
  auto w = std::make_shared<completion_watch>();
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto f = fs[i];
    f.add_done_callback([w, i](const future<T>& done) {
      bool failed = !done.cancelled() && done.state()->error() != nullptr;
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
