#pragma once
/// @file wait.hpp
/// `actors::wait`: block until any of several processes, pipe ends, queues or
/// file descriptors is ready, like Python's `multiprocessing.connection.wait`.
///
/// @code
/// auto ready = actors::wait({worker, results_pipe, jobs_queue}, 1s);
/// for (auto i : ready) ...   // indices into the list, in order
/// @endcode

#include <actors/pipe.hpp>
#include <actors/process.hpp>
#include <actors/queue.hpp>
#include <actors/time.hpp>

#include <cstddef>
#include <vector>

namespace actors {

/// Something wait() can wait on. Ready means:
/// - a file descriptor: readable;
/// - a process: it has exited;
/// - a pipe end: a message (or EOF) can be received;
/// - a queue: an item can be taken (waiting sends the queue a fetch request,
///   which the next get() on this handle completes).
class waitable {
public:
  waitable(int fd) : fd_(fd) {} // NOLINT: implicit, like Python's duck typing
  waitable(const process& p) : fd_(p.sentinel()) {}
  template <class T>
  waitable(const connection<T>& c) : fd_(c.fileno()) {}
  template <class T, bool J>
  waitable(detail::basic_queue<T, J>& q) : fd_(q.wait_handle()) {}

  /// The descriptor polled, or -1 if the object is ready already.
  int fd() const noexcept { return fd_; }

private:
  int fd_;
};

/// Waits until at least one of `objects` is ready or `timeout` passes, and
/// returns the indices of those ready, in order (empty on timeout).
/// Throws errc::system_error if poll() fails, and what the objects throw
/// (errc::not_started for a process never started, errc::closed ...).
std::vector<std::size_t> wait(const std::vector<waitable>& objects,
                              duration timeout = forever);

} // namespace actors
