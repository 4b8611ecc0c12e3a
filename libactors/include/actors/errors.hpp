#pragma once
/// @file errors.hpp
/// One error code enum for all of libactors, its std::error_code category, and
/// the exception types that carry it. Exception names follow Python's, so a
/// Python user finds `timeout_error` where they would catch `TimeoutError`.

#include <stdexcept>
#include <string>
#include <system_error>

namespace actors {

/// Every failure libactors reports. `std::error_code{errc::x}` works, and every
/// exception thrown by libactors derives from `actors::error` and carries one.
enum class errc : int {
  /// No error.
  none = 0,
  /// libactors was used in a process that has no running node. Create
  /// `actors::node node;` first thing in main().
  no_node,
  /// A second node was created while one is already running in this process.
  node_exists,
  /// An argument was out of range or otherwise unusable; the message says which.
  bad_argument,
  /// `start()` on a process that was already started (Python: "cannot start a
  /// process twice").
  already_started,
  /// `join()`, `terminate()` or similar on a process that was never started.
  not_started,
  /// A process tried to join itself, which would deadlock.
  join_self,
  /// The operation is only allowed on a child of the calling process.
  not_a_child,
  /// The process object was closed with `close()`.
  closed,
  /// `close()` on a process that is still running.
  still_running,
  /// The child could not find the target function: the module that holds it
  /// is not loaded there (e.g. it was dlopen'ed after the fork server started,
  /// or spawn re-executed a program that does not load it at start-up).
  target_not_found,
  /// The child could not decode the arguments it was sent.
  bad_payload,
  /// A blocking call ran out of time.
  timeout,
  /// The other end of a connection closed or its process died; nothing more
  /// will arrive (Python's EOFError).
  eof,
  /// The other end of a connection is gone, so a message cannot be sent
  /// (Python's BrokenPipeError).
  broken_pipe,
  /// An incoming frame was malformed or over the cap; that connection was
  /// closed. Other connections are untouched.
  bad_frame,
  /// An outgoing message is over the frame cap (actors::set_max_frame_size);
  /// nothing was sent and the connection stays usable.
  frame_too_large,
  /// put() on a full queue ran out of time (Python's queue.Full).
  queue_full,
  /// get() on an empty queue ran out of time (Python's queue.Empty).
  queue_empty,
  /// A consumer died holding items it had taken from a joinable queue but
  /// not marked done; join() reports it instead of waiting forever.
  consumer_died,
  /// release() of a lock this thread does not hold.
  not_owner,
  /// A barrier was broken: aborted, reset, timed out, its action threw, or a
  /// waiting party died (Python's BrokenBarrierError).
  broken_barrier,
  /// An operating-system call failed; the message names the call and errno.
  system_error,
};

/// The std::error_category for actors::errc ("actors").
const std::error_category& error_category() noexcept;

/// Makes `std::error_code ec = actors::errc::timeout;` work.
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Base of every exception libactors throws. `code()` tells which failure it
/// is; `what()` is a message a user can act on.
class error : public std::runtime_error {
public:
  error(errc code, const std::string& message);
  /// The failure, as an error_code in the "actors" category.
  std::error_code code() const noexcept { return make_error_code(code_); }
  /// The failure, as the enum.
  errc value() const noexcept { return code_; }

private:
  errc code_;
};

/// A blocking call ran out of time (Python's TimeoutError).
class timeout_error : public error {
public:
  explicit timeout_error(const std::string& message)
    : error(errc::timeout, message) {}
};

/// The other end closed or died: nothing more will arrive (Python's EOFError).
class eof_error : public error {
public:
  explicit eof_error(const std::string& message)
    : error(errc::eof, message) {}
};

/// put() on a full queue ran out of time (Python's queue.Full).
class queue_full : public error {
public:
  explicit queue_full(const std::string& message) : error(errc::queue_full, message) {}
};

/// get() on an empty queue ran out of time (Python's queue.Empty).
class queue_empty : public error {
public:
  explicit queue_empty(const std::string& message) : error(errc::queue_empty, message) {}
};

/// The barrier is broken (Python's BrokenBarrierError).
class broken_barrier_error : public error {
public:
  explicit broken_barrier_error(const std::string& message)
    : error(errc::broken_barrier, message) {}
};

/// Thrown by a process target to end its process with `code` as exit code,
/// like Python's `sys.exit(code)`. Nothing is printed.
class system_exit {
public:
  explicit system_exit(int code = 0) noexcept : code_(code) {}
  int code() const noexcept { return code_; }

private:
  int code_;
};

} // namespace actors

namespace std {
template <>
struct is_error_code_enum<actors::errc> : true_type {};
} // namespace std
