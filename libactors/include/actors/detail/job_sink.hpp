#pragma once
// The interface between a pool's supervisor and whatever waits for a job:
// a future, a map's parts, an imap.

#include <cstddef>
#include <exception>

namespace actors::detail {

/// Where a pool delivers what a task produced. `part` tells the pieces of a
/// map apart. Called from the pool's supervisor, on the node's service loop.
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

} // namespace actors::detail
