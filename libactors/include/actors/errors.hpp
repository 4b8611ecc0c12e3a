#pragma once
/// @file errors.hpp
/// One error code enum for all of libactors, its std::error_code category, and
/// the exception types that carry it. Exception names follow Python's, so a
/// Python user finds `timeout_error` where they would catch `TimeoutError`.

#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

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
  /// put() on a queue that was shut down, or get() on one that was shut down
  /// and is empty (Python 3.13's queue.ShutDown).
  queue_shut_down,
  /// A consumer died holding items it had taken from a joinable queue but
  /// not marked done; join() reports it instead of waiting forever.
  consumer_died,
  /// release() of a lock this thread does not hold.
  not_owner,
  /// A barrier was broken: aborted, reset, timed out, its action threw, or a
  /// waiting party died (Python's BrokenBarrierError).
  broken_barrier,
  /// A task raised an exception in a pool worker; the exception is a
  /// remote_error that names the original type, message, worker and task.
  remote_error,
  /// The worker process running a task died (signal, _exit, OOM...); the
  /// exception is a worker_died that names the pid, signal and task.
  worker_died,
  /// The future's task was cancelled before it started.
  cancelled,
  /// SIGINT (Ctrl-C) arrived while the call was waiting (Python's
  /// KeyboardInterrupt).
  interrupted,
  /// A managed dict has no such key (Python's KeyError); a managed list has
  /// no such index (IndexError) or value (the ValueError of index() and
  /// remove()).
  key_error,
  /// An operating-system call failed; the message names the call and errno.
  system_error,
  /// An ask reached an actor that is gone; the exception is an actor_died
  /// (actor.hpp) that says why it stopped.
  actor_died,
  /// A received message does not fit the buffer given to recv_bytes_into();
  /// the exception is a buffer_too_short that holds the whole message
  /// (Python's BufferTooShort).
  buffer_too_short,
  /// The two ends of a listener/client connection do not share the same
  /// authkey (or one of them speaks no authentication); the exception is an
  /// authentication_error (Python's AuthenticationError).
  auth_failed,
  /// recv_bytes(maxlength) met a longer message; it was dropped unread and
  /// the connection stays usable (Python's OSError "bad message length").
  message_too_long,
  /// A supervisor gave up: its children needed more restarts than its
  /// intensity allows within its period. It stopped them, then itself.
  restart_limit,
  /// A host could not join the cluster, or a cluster link could not be made:
  /// a wrong or missing certificate, a peer that speaks no TLS, or a host
  /// that runs a different program. Both sides report it.
  cluster_refused,
  /// A host named in a spawn or an address is not in the cluster, or its
  /// link went down (a partition, or the host died).
  host_unreachable,
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

/// The queue was shut down: put() after shutdown(), or get() once the shut
/// down queue is empty (Python 3.13's queue.ShutDown).
class queue_shut_down : public error {
public:
  explicit queue_shut_down(const std::string& message)
    : error(errc::queue_shut_down, message) {}
};

/// The barrier is broken (Python's BrokenBarrierError).
class broken_barrier_error : public error {
public:
  explicit broken_barrier_error(const std::string& message)
    : error(errc::broken_barrier, message) {}
};

/// A task raised an exception in a pool worker. `what()` reads like
/// "map chunk 3 (items 30..39) raised std::invalid_argument in worker pid
/// 4242: bad input"; the parts are available one by one.
class remote_error : public error {
public:
  remote_error(std::string type_name, std::string message, int pid, std::string task);
  /// The demangled type of the exception thrown in the worker.
  const std::string& type_name() const noexcept { return type_name_; }
  /// Its what() (empty for an exception not derived from std::exception).
  const std::string& message() const noexcept { return message_; }
  /// The worker's pid.
  int pid() const noexcept { return pid_; }
  /// Which task or chunk: "apply_async #7", "map chunk 3 (items 30..39)".
  const std::string& task() const noexcept { return task_; }

private:
  std::string type_name_, message_, task_;
  int pid_;
};

/// The worker process running a task died. `signal()` is the signal that
/// killed it (0 if it exited, e.g. by _exit(), then see `exitcode()`).
class worker_died : public error {
public:
  worker_died(int pid, int signal, int exitcode, std::string task);
  int pid() const noexcept { return pid_; }
  int signal() const noexcept { return signal_; }
  int exitcode() const noexcept { return exitcode_; }
  const std::string& task() const noexcept { return task_; }

private:
  int pid_, signal_, exitcode_;
  std::string task_;
};

/// The future's task was cancelled before it started (Python's
/// CancelledError).
class cancelled_error : public error {
public:
  explicit cancelled_error(const std::string& message) : error(errc::cancelled, message) {}
};

/// SIGINT arrived while a pool call was waiting (Python's KeyboardInterrupt).
/// Only calls that wait on pool results are interrupted; without a waiting
/// call, SIGINT keeps its default action (the program ends).
class keyboard_interrupt : public error {
public:
  explicit keyboard_interrupt(const std::string& message)
    : error(errc::interrupted, message) {}
};

/// connection::recv_bytes_into(buffer, offset) received a message longer
/// than the room after `offset` (Python's BufferTooShort). The message has
/// been taken off the connection; bytes() holds all of it.
class buffer_too_short : public error {
public:
  buffer_too_short(const std::string& message, std::string bytes)
    : error(errc::buffer_too_short, message), bytes_(std::move(bytes)) {}
  /// The whole message that did not fit (Python: e.args[0]).
  const std::string& bytes() const noexcept { return bytes_; }

private:
  std::string bytes_;
};

/// The challenge-response of a listener/client connection failed: the
/// authkeys differ, or the other end did not follow the protocol (Python's
/// multiprocessing.AuthenticationError).
class authentication_error : public error {
public:
  explicit authentication_error(const std::string& message)
    : error(errc::auth_failed, message) {}
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
