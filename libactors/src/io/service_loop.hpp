#pragma once
// The node's service loop: one event loop thread ("actors.service") that
// serves what the node itself offers: the queue server with the node's
// control endpoint, the queue clients' flush timer and the pools'
// supervisors. It never runs user actors (those run on the transport's loops
// or CAF's workers), so a user's actor or thread that blocks on a queue or a
// pool never holds up the loop that serves them. Never installed.

#include "io/transport.hpp"

namespace actors::detail {

/// The service loop, started on first use (after the fork server). Throws
/// errc::no_node without a node.
event_loop& service_loop();

/// The service loop if it runs, else nullptr.
event_loop* service_loop_if_running() noexcept;

/// True on the service loop's thread: a wait there for something the loop
/// itself must deliver would never end.
bool on_service_loop() noexcept;

/// Node shutdown, once every service on it has stopped: ends the thread.
void stop_service_loop() noexcept;

/// In a fork()ed child: forgets the parent's loop (its thread is not here).
void drop_inherited_service_loop() noexcept;

} // namespace actors::detail
