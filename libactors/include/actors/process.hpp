#pragma once
/// @file process.hpp
/// `actors::process`: Python's `multiprocessing.Process` for C++. A process
/// runs a target function with arguments in a new OS process, which runs its
/// own libactors node.
///
/// @code
/// void greet(std::string who) { std::cout << "hello " << who << '\n'; }
///
/// int main() {
///   actors::node node;
///   actors::process p(greet, "world");
///   p.start();
///   p.join();
///   return *p.exitcode();   // 0
/// }
/// @endcode

#include <actors/detail/target.hpp>
#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace actors {

/// How a child process is created. See docs/architecture.md.
enum class start_method {
  /// Forked from a single-threaded fork server that the node starts before any
  /// actor-system thread exists. Safe and fast. The default.
  forkserver,
  /// The program is executed again (fork+exec of /proc/self/exe by the fork
  /// server); the child starts from a clean image, reaches `actors::node` in
  /// main() and runs the target there instead of main's body.
  spawn,
  /// fork() of the calling process. The child inherits a copy of everything,
  /// but only the calling thread: a lock held by any other thread stays locked
  /// forever in the child. Unsafe once threads run, exactly as Python
  /// documents. The child is also killed when the thread that started it
  /// exits (it is tied to it by PR_SET_PDEATHSIG).
  fork,
};

/// "forkserver", "spawn" or "fork".
const char* to_string(start_method m) noexcept;

/// Prints to_string(m).
std::ostream& operator<<(std::ostream& out, start_method m);

/// Sets the start method that new processes use unless they choose their own.
/// Thread-safe.
void set_start_method(start_method m) noexcept;

/// The start method that new processes use by default (forkserver).
start_method get_start_method() noexcept;

namespace detail {
struct process_state;
struct process_access;
} // namespace detail

/// A handle to an OS process that runs `target(args...)`.
///
/// Copies are handles to the same process, like Python references. Dropping
/// every handle does not stop the child; the node joins non-daemon children
/// (and terminates daemon ones) when it stops.
///
/// - Target: any free function, function pointer or lambda without captures.
///   Its return value is ignored, as in Python. Throw `actors::system_exit(n)`
///   to exit with code n.
/// - Arguments: converted to the target's parameter types and serialized with
///   Cereal when the process is constructed. A type that is not serializable
///   is a compile error that says so.
/// - Blocks: `start()` until the child runs the target (one round trip);
///   `join()` until the child exits.
/// - Throws: `actors::error` with the codes listed on each member.
/// - Thread-safe: every member may be called from any thread.
class process {
public:
  /// Prepares, but does not start, a process running `target(args...)`.
  template <class F, class... Args>
  explicit process(F&& target, Args&&... args)
    : process(detail::make_invocation(std::forward<F>(target),
                                      std::forward<Args>(args)...)) {}

  process(const process&) = default;
  process(process&&) noexcept = default;
  process& operator=(const process&) = default;
  process& operator=(process&&) noexcept = default;
  ~process();

  /// The name, `Process-N` by default (`Process-1:2` for the second child of
  /// `Process-1`), or "MainProcess".
  std::string name() const;
  /// Renames the process. Before start() the child sees the new name.
  process& name(std::string new_name);

  /// Whether the process is a daemon: daemon children are terminated, not
  /// joined, when their parent's node stops.
  bool daemon() const;
  /// Sets the daemon flag. Throws errc::already_started after start().
  process& daemon(bool value);

  /// This process's start method (the global default unless set).
  start_method method() const;
  /// Chooses the start method. Throws errc::already_started after start().
  process& method(start_method m);

  /// The OS process id; 0 before start() (Python: None).
  int pid() const;

  /// Starts the child and returns once it is running the target.
  /// - Throws errc::already_started (second call), errc::closed,
  ///   errc::target_not_found (the child could not find the target; it exits
  ///   with code 1), errc::no_node, errc::system_error.
  void start();

  /// Waits until the child exits. Throws errc::not_started before start(),
  /// errc::join_self on the current process, errc::closed after close().
  void join();

  /// Waits at most `timeout`. Returns true if the process has exited (check
  /// exitcode()), false on timeout. Throws as join().
  bool join(duration timeout);

  /// True from start() until the child exits. Reaps the child if it exited.
  bool is_alive();

  /// Unset while running (and before start); 0 after a normal exit; 1 after
  /// an uncaught exception; n after `system_exit(n)`; -N after signal N.
  std::optional<int> exitcode();

  /// Sends SIGTERM. Nothing happens if the process already exited.
  /// Throws errc::not_started, errc::not_a_child, errc::closed.
  void terminate();

  /// Sends SIGKILL. Same rules as terminate().
  void kill();

  /// Sends SIGINT, as Ctrl-C would (Python 3.14's Process.interrupt()).
  /// In a child that has started a pool, a call waiting on a future (get(),
  /// wait(), map...) throws actors::keyboard_interrupt (uncaught, the child
  /// exits with code 1, as Python's KeyboardInterrupt does). Otherwise
  /// SIGINT has its default action, so exitcode() is -SIGINT, unless the
  /// child installed its own handler. Nothing happens if the process already
  /// exited. Throws as terminate().
  void interrupt();

  /// Releases the process's file descriptors. Throws errc::still_running if
  /// the child is running; afterwards every member but name() throws
  /// errc::closed.
  void close();

  /// A file descriptor that becomes readable when the process exits, for
  /// poll()/select(); actors::wait() takes the process itself. Throws
  /// errc::not_started, errc::closed.
  int sentinel() const;

  /// True if both handles refer to the same process.
  friend bool operator==(const process& a, const process& b) noexcept {
    return a.state_ == b.state_;
  }
  friend bool operator!=(const process& a, const process& b) noexcept {
    return !(a == b);
  }

  /// For the runtime: wraps existing state (current or parent process).
  explicit process(std::shared_ptr<detail::process_state> state) noexcept;

private:
  friend struct detail::process_access;
  explicit process(detail::invocation inv);

  std::shared_ptr<detail::process_state> state_;
};

/// The process this code runs in: "MainProcess" in the program that created
/// the first node, the child's name and pid inside a child.
/// Throws errc::no_node.
process current_process();

/// The parent of this process, or nullopt in the main process (Python: None).
/// Its is_alive() and join(timeout) watch the parent's exit; they never block
/// beyond the timeout. A parent that ends without stopping its node (killed
/// by a signal) does not leave orphans: a forkserver or spawn child gets half
/// a second to see it gone and finish, then it is killed (a fork child dies
/// with the parent at once). Throws errc::no_node.
std::optional<process> parent_process();

/// The children of this process that are still alive. Reaps those that have
/// exited, as Python does. Throws errc::no_node.
std::vector<process> active_children();

/// The number of CPUs online.
int cpu_count() noexcept;

} // namespace actors
