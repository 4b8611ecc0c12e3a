#pragma once
/// @file future_source.hpp
/// `actors::future_source<T>`: an actors::future<T> that no pool fills in,
/// completed by hand. Python's concurrent.futures.Future created directly,
/// as executors and tests do: the future side (get, result, wait, cancel,
/// add_done_callback, actors::wait, as_completed) is the usual future<T>;
/// the source is the side that sets it.
///
/// @code
/// actors::future_source<int> src;
/// auto f = src.get_future();
/// std::thread producer([src]() mutable {
///   if (src.set_running_or_notify_cancel())  // false: f was cancelled
///     src.set_result(42);
/// });
/// f.get(std::chrono::seconds(1));           // 42
/// producer.join();
/// @endcode
///
/// (actors::promise<R>, in actor_context.hpp, answers an actor's ask; this is
/// the stand-alone counterpart with Python's Future names.)

#include <actors/errors.hpp>
#include <actors/future.hpp>

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace actors {

/// The producer side of a future<T> not tied to a pool.
/// - Blocks: never. The future's callbacks run in the thread that ends it
///   (set_result(), set_exception(), or the future's cancel()).
/// - Throws: errc::bad_argument (Python's InvalidStateError) from
///   set_result() and set_exception() once the future was cancelled or has
///   finished, and from set_running_or_notify_cancel() once it runs or has
///   finished (Python's RuntimeError).
/// - Copies share one future. When the last copy goes away while the future
///   is pending or running, it fails with errc::broken_pipe, so nobody waits
///   on it forever (as actors::promise does).
/// - Thread-safe: any thread may set it while others wait.
template <class T>
class future_source {
public:
  /// A source with a new pending future.
  future_source() : owner_(std::make_shared<owner>()) {}

  /// The future this source completes; every call returns a handle to the
  /// same future.
  future<T> get_future() const { return future<T>(owner_->state); }

  /// Python's Future.set_running_or_notify_cancel(): call it before doing
  /// the work. True: the future is now running and can no longer be
  /// cancelled. False: it was cancelled (its callbacks have run); skip the
  /// work. Throws errc::bad_argument if it runs or has finished already.
  bool set_running_or_notify_cancel() { return owner_->state->start_unless_cancelled(); }

  /// Ends the future with `value`: get() returns it, then waiters wake and
  /// callbacks run. Allowed while pending or running. Throws
  /// errc::bad_argument if the future was cancelled or has finished.
  void set_result(detail::stored_t<T> value) {
    if (!owner_->state->try_set(std::move(value)))
      throw already_ended("set_result");
  }

  /// For future_source<void>.
  template <class U = T, class = std::enable_if_t<std::is_void_v<U>>>
  void set_result() {
    set_result(none_t{});
  }

  /// Ends the future with `e`: get() and result() throw it, exception()
  /// returns it, wait(first_exception) counts it. Any exception may be set,
  /// not only an actors::error. Throws errc::bad_argument for a null `e`, or
  /// if the future was cancelled or has finished.
  void set_exception(std::exception_ptr e) {
    if (!e)
      throw error(errc::bad_argument,
                  "future_source::set_exception: the exception_ptr is null; pass "
                  "std::make_exception_ptr(e) or std::current_exception()");
    if (!owner_->state->try_finish(detail::task_state::status::failed, std::move(e)))
      throw already_ended("set_exception");
  }

  /// set_exception(std::make_exception_ptr(e)): get() throws `e` as its
  /// static type E (an actors::error, timeout_error, std::runtime_error...).
  template <class E, class = std::enable_if_t<std::is_base_of_v<std::exception, E>>>
  void set_exception(const E& e) {
    set_exception(std::make_exception_ptr(e));
  }

private:
  struct owner {
    std::shared_ptr<detail::result_state<T>> state =
      std::make_shared<detail::result_state<T>>();
    ~owner() {
      try {
        state->try_finish(detail::task_state::status::failed,
                          std::make_exception_ptr(error(
                            errc::broken_pipe, "the future's future_source was destroyed "
                                               "without setting a result or an exception")));
      } catch (...) {
        // Out of memory for the message: the future stays pending.
      }
    }
  };

  error already_ended(const char* call) const {
    bool cancelled = owner_->state->current() == detail::task_state::status::cancelled;
    return error(errc::bad_argument,
                 std::string("future_source::") + call + ": the future "
                   + (cancelled ? "was cancelled; call set_running_or_notify_cancel() first "
                                  "and skip the work when it returns false"
                                : "has finished already; a future is set once")
                   + " (Python's InvalidStateError)");
  }

  std::shared_ptr<owner> owner_;
};

} // namespace actors
