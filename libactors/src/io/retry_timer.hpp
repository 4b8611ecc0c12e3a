#pragma once
// A one-shot timer on an event loop that many events may ask for while it
// is pending: it is armed at most once at a time. For wait lists that are
// tried again every so often (the lock coordinator, a bounded queue's far
// callers). Loop thread only. Never installed.

#include "io/transport.hpp"

#include <functional>
#include <utility>

namespace actors::detail {

class retry_timer {
public:
  /// Runs `fn` on `loop` once after `delay`, unless a run is already due.
  void arm(event_loop& loop, event_loop::clock::duration delay, std::function<void()> fn) {
    if (armed_)
      return;
    armed_ = true;
    id_ = loop.at(event_loop::clock::now() + delay, [this, fn = std::move(fn)] {
      armed_ = false;
      fn();
    });
  }

  /// Drops the run that is due, if any (its loop must be `loop`).
  void cancel(event_loop& loop) noexcept {
    if (std::exchange(armed_, false))
      loop.cancel(id_);
  }

  /// Forgets a run due on a loop that is gone (a fork()ed child's).
  void forget() noexcept { armed_ = false; }

private:
  bool armed_ = false;
  event_loop::timer_id id_ = 0;
};

} // namespace actors::detail
