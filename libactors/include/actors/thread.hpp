#pragma once
/// @file thread.hpp
/// `actors::thread`: Python's `threading.Thread`, as an actor of this
/// process's node. It runs a function concurrently inside the same process,
/// with the lifecycle calls of actors::process (start, join, is_alive, name,
/// daemon). Locks, events, queues and the other primitives work between
/// such threads as they do between processes.
///
/// @code
/// void count(actors::value<int> v, int n) { for (int i = 0; i < n; ++i) v.fetch_add(1); }
///
/// int main() {
///   actors::node node;
///   actors::value<int> v(0);
///   actors::thread t(count, v, 1000);
///   t.name("counter").start();
///   t.join();
///   v.load();   // 1000
/// }
/// @endcode
///
/// The function runs in a detached CAF blocking actor: its own OS thread,
/// owned by the node's actor system. Unlike a process target it may be any
/// callable (capturing lambdas too) and its arguments are not serialized:
/// they are copied (or moved) into the thread, as std::thread does.
///
/// When the node stops (main's node goes out of scope, a child's target
/// returns or throws, or std::exit is called), its non-daemon threads are
/// waited for first, before children are joined and queues stop, as Python
/// joins them at exit; daemon threads are abandoned and end with the process.
/// (A thread that calls std::exit itself is not waited for.)

#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

namespace actors {

namespace detail {
struct thread_state;
} // namespace detail

class thread {
public:
  /// Prepares, but does not start, a thread running `target(args...)`.
  template <class F, class... Args>
  explicit thread(F&& target, Args&&... args)
    : thread(std::function<void()>(
      [f = std::forward<F>(target),
       tup = std::make_tuple(std::forward<Args>(args)...)]() mutable { std::apply(f, tup); })) {}

  thread(const thread&) = default;
  thread(thread&&) noexcept = default;
  thread& operator=(const thread&) = default;
  thread& operator=(thread&&) noexcept = default;
  ~thread();

  /// `Thread-N` by default.
  std::string name() const;
  thread& name(std::string new_name);

  /// Daemon threads are not waited for when the node stops. Throws
  /// errc::already_started after start().
  bool daemon() const;
  thread& daemon(bool value);

  /// Starts the thread. Throws errc::already_started, errc::no_node.
  void start();

  /// Waits until the function returned. Throws errc::not_started,
  /// errc::join_self (from inside the thread itself).
  void join();
  /// Waits at most `timeout`; true if the thread has finished.
  bool join(duration timeout);

  /// True from start() until the function returns.
  bool is_alive() const;

  /// The OS thread id once started (Python's native_id), else 0.
  long native_id() const;

  friend bool operator==(const thread& a, const thread& b) noexcept { return a.state_ == b.state_; }
  friend bool operator!=(const thread& a, const thread& b) noexcept { return !(a == b); }

private:
  explicit thread(std::function<void()> body);

  std::shared_ptr<detail::thread_state> state_;
};

} // namespace actors
