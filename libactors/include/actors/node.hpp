#pragma once
/// @file node.hpp
/// The node: the per-process runtime of libactors. Every OS process that uses
/// libactors runs exactly one node. It owns the process's CAF actor system,
/// its identity (name, pid) and its links to its parent and children.
///
/// @code
/// int main() {
///   actors::node node;          // first thing in main()
///   ...                         // processes, actors, queues
/// }                             // joins children, stops the actor system
/// @endcode

#include <caf/actor_system.hpp>

#include <chrono>
#include <cstddef>

namespace actors {

/// RAII guard that starts this process's node and stops it when it goes out of
/// scope. Create it first thing in main(): with the `spawn` start method the
/// program is executed again in the child, and the guard's constructor is
/// where the child takes over (code before it runs again in each spawned
/// child, like module-level code in Python).
///
/// - Blocks: the constructor forks the fork server (about 0.2 ms); the
///   destructor terminates daemon children and joins the others, as Python
///   does at interpreter exit.
/// - Throws: `actors::error` with `errc::node_exists` if a node is already
///   running; `errc::system_error` if the fork server cannot be started.
/// - Memory: the constructor sets glibc malloc's mmap threshold to 32 MiB and
///   its trim threshold to 64 MiB, so that the buffers of large messages are
///   reused instead of starting on fresh pages each time (the values glibc
///   itself reaches once a program frees a 32 MiB block; see
///   docs/performance.md, "Fresh pages"). A program that sets
///   `GLIBC_TUNABLES=glibc.malloc.*` or `ACTORS_MALLOC=default` keeps its own.
/// - Thread-safety: create and destroy it on the main thread.
class node {
public:
  node();
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;
};

/// This process's CAF actor system. Created on first use, after the fork
/// server, so that no actor-system thread exists when the fork server forks.
/// - Throws: `actors::error` with `errc::no_node` when no node is running.
/// - Thread-safe.
caf::actor_system& system();

/// True while a node runs in this process.
bool node_running() noexcept;

/// Sets the largest message payload, in bytes, that this process sends or
/// accepts (default 2 GiB, so a 1 GiB message fits; at most 4 GiB - 1).
/// A larger outgoing message is refused with errc::frame_too_large before
/// anything is written; a larger incoming frame closes that connection with
/// errc::bad_frame. Throws errc::bad_argument outside [64, 4 GiB - 1].
/// Thread-safe; children started afterwards do not inherit it.
void set_max_frame_size(std::size_t bytes);

/// The current cap (see set_max_frame_size).
std::size_t max_frame_size() noexcept;

/// How long a thread that waits for a result (an ask's reply, a future) and
/// each transport loop that has just had work keep looking before they
/// sleep (default 50 us; zero never). A reply that comes meanwhile is taken
/// without a wake-up, which on this project's 2-core test machine halves a
/// cross-process ask (38 to 18 us) and a local ask from a thread. The cost
/// is up to this much CPU after each burst of messages, none while idle;
/// each look yields the core, so a busy machine runs the others first.
/// Applies to this process and the children it starts afterwards (the
/// environment variable ACTORS_BUSY_POLL_US sets it before main).
/// Throws errc::bad_argument for a negative time or one over 10 ms.
/// Thread-safe.
void set_busy_poll(std::chrono::microseconds t);

/// The current busy-poll time (see set_busy_poll).
std::chrono::microseconds busy_poll() noexcept;

} // namespace actors
