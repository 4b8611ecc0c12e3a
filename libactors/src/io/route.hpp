#pragma once
// Endpoints across hosts. On one host an endpoint is a socket path
// ("/tmp/actors-PID-XXXXXX/actors.sock"). In a cluster, every process knows
// its host's name (ACTORS_CLUSTER_HOST) and its host's gateway socket
// (ACTORS_GATEWAY); an endpoint of another host is written
// "<host>:<path>", and connecting to it goes through the gateway, which
// relays the connection's bytes to that host over CAF's middleman
// (cluster/gateway.cpp). Addresses are qualified as they are encoded and
// unqualified as they are decoded on their own host, so the rest of the
// library compares and dials endpoints as before. Never installed.

#include "base/fd.hpp"

#include <actors/detail/wire_endpoint.hpp> // cluster_host, endpoint_to_wire, endpoint_from_wire

#include <string>

namespace actors::detail {

/// The path of this host's gateway socket; empty outside a cluster.
const std::string& gateway_path() noexcept;
/// The actor endpoint of the node that runs this host's gateway (the host's
/// node, where spawn(on_host(this host)) builds its actors).
const std::string& cluster_node() noexcept;
/// Set by the process that runs the host's gateway, before it serves (also
/// in the environment, so children started afterwards inherit them).
void set_cluster_route(const std::string& host, const std::string& gateway,
                       const std::string& node);

/// True for "<host>:<path>", an endpoint on another host.
bool is_remote_endpoint(const std::string& endpoint) noexcept;
/// Splits "<host>:<path>" (is_remote_endpoint() must hold).
std::pair<std::string, std::string> split_endpoint(const std::string& endpoint);


/// A connection to `endpoint`, wherever it is: a Unix socket on this host,
/// or through the gateway (dial_remote) for "<host>:<path>". On this host
/// an empty fd means nothing listens there (errno says why); another host's
/// failures throw as dial_remote does. `pid`, if given, gets the process
/// that serves the endpoint (SO_PEERCRED on this host). The one place that
/// tells the two kinds of endpoint apart when dialling.
unique_fd connect_endpoint(const std::string& endpoint, int* pid = nullptr);

/// A connection to `endpoint` on another host, through this host's gateway:
/// the gateway asks that host's gateway to connect, and both answer before
/// this returns, so it fails the way a local connect() does. `pid` is the
/// process that serves the endpoint there. Throws errc::eof when nothing
/// listens there or the host cannot be reached, errc::bad_argument outside a
/// cluster, with a message that says which.
unique_fd dial_remote(const std::string& endpoint, int& pid);

} // namespace actors::detail
