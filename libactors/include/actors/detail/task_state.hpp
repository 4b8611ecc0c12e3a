#pragma once
// The state a future shares with whoever ends its task (a pool's supervisor,
// a future_source, an actor's reply).

#include <actors/detail/interrupt.hpp>
#include <actors/detail/job_sink.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/none.hpp>
#include <actors/time.hpp>

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <vector>

namespace actors::detail {

/// True on the transport thread that delivers actors' replies.
bool on_reply_loop() noexcept;

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

} // namespace actors::detail
