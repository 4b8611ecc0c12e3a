#pragma once
// The node's socket (node.sock, in the node's private directory): actors-top's
// control endpoint, and the door to what the node's families serve. It runs
// on the node's service loop (io/service_loop.hpp). A connection's first
// frame says where it goes: a stats request is answered here
// (runtime/stats.cpp); an operation that a family registered hands the
// connection over to that family, with the bytes already read (the queue
// server takes the connections that start with its hello). The node thus
// serves its queues without knowing them. Never installed.

#include "base/fd.hpp"
#include "io/wire.hpp"

#include <cstdint>
#include <string>

namespace actors::detail {

/// Takes over a connection whose first frame (still at the front of `in`)
/// has the operation it was registered for. Runs on the service loop.
using node_service = void (*)(unique_fd fd, int pid, inbuf in);

/// Registers the family that serves connections whose first frame has
/// operation `op`; call it before such a connection can arrive.
void add_node_service(std::uint8_t op, node_service adopt);

/// Opens this node's socket now if it is not open (idempotent, thread-safe).
/// Starts the service loop's thread: a program that never calls it stays
/// thread-free, so fork() stays safe in it.
void start_control_endpoint();

/// The socket's path; opens it first if needed.
std::string control_endpoint();

/// Node shutdown, after the families' services stopped: closes the socket
/// and the connections not handed over.
void stop_control_endpoint() noexcept;

/// In a fork()ed child: forgets the parent's socket (its files stay).
void drop_inherited_control_endpoint() noexcept;

} // namespace actors::detail
