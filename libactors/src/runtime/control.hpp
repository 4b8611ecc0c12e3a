#pragma once
// actors-top's control endpoint: the node's own socket, which answers stats
// requests (runtime/stats.cpp) and serves the queues this node owns. Its
// server is the queue server (queue/server.cpp); the node, and every family
// that actors-top should see, open it through this declaration and include
// nothing of the queue. Never installed.

namespace actors::detail {

/// Opens this node's socket now if it is not open (idempotent, thread-safe).
/// Starts the server's threads: a program that never calls it stays
/// thread-free, so fork() stays safe in it.
void start_control_endpoint();

} // namespace actors::detail
