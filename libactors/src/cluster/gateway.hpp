#pragma once
// The gateway's state, shared by its two halves: the broker that relays
// connections between hosts (cluster/gateway.cpp) and the start, stop and
// public calls (cluster/cluster.cpp). Never installed.

#include "base/fd.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace actors::detail::gateway_impl {

using join_atom = caf::atom_constant<caf::atom("join")>;
using member_atom = caf::atom_constant<caf::atom("member")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using opened_atom = caf::atom_constant<caf::atom("opened")>;
using data_atom = caf::atom_constant<caf::atom("data")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

constexpr std::size_t read_chunk = 256 * 1024;

// One relayed connection. Its key is (the host whose gateway opened it, its
// number there), the same on both sides.
struct stream {
  caf::io::connection_handle hdl; // the local connection
  std::string host;               // the other side's host
  caf::actor gw;                  // the other side's gateway
  bool answered = true;           // origin side: the dial was answered
};
using stream_key = std::pair<std::string, std::uint64_t>;

struct gateway_state {
  std::mutex mtx; // the members, linked, cv
  std::condition_variable cv;
  std::string name;
  bool root = false;
  bool linked = false; // a worker: its root is there
  std::string root_name;
  std::map<std::string, caf::actor> members; // other hosts' gateways
  std::string program;                       // this program's digest
  std::string node_endpoint;                 // this host's node (path "/")

  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor gw; // the broker
  std::unique_ptr<private_server> server;

  // The broker's only.
  std::map<stream_key, stream> streams;
  std::map<caf::io::connection_handle, stream_key> by_hdl;
  std::map<caf::io::connection_handle, std::vector<char>> dialling; // dial frame so far
  std::uint64_t next_id = 1;
};

/// Set once by start(), never freed (a fork child forgets it).
extern gateway_state* g;

/// The broker: `listener` is the gateway socket, where processes of this
/// host dial (a copy the broker's doorman owns).
caf::behavior gateway_broker(caf::io::broker* self, int listener);

} // namespace actors::detail::gateway_impl
