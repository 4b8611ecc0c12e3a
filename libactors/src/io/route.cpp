// Endpoints across hosts: see route.hpp.
#include "io/route.hpp"

#include "io/frame.hpp"

#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <tuple>

#include <unistd.h>

namespace actors::detail {

namespace {

// The two names, read from the environment on first use. Replaced only by
// set_cluster_route(), and never freed: readers hold plain references.
struct route {
  std::string host, gateway, node;
  const route* previous = nullptr; // kept, and reachable: see above
};

route* read_environment() {
  auto* r = new route;
  if (const char* h = std::getenv("ACTORS_CLUSTER_HOST"))
    r->host = h;
  if (const char* g = std::getenv("ACTORS_GATEWAY"))
    r->gateway = g;
  if (const char* n = std::getenv("ACTORS_CLUSTER_NODE"))
    r->node = n;
  return r;
}

std::atomic<route*>& current() {
  static std::atomic<route*> r{read_environment()};
  return r;
}

const route& now() noexcept {
  return *current().load(std::memory_order_acquire);
}

} // namespace

const std::string& cluster_host() noexcept {
  return now().host;
}

const std::string& gateway_path() noexcept {
  return now().gateway;
}

const std::string& cluster_node() noexcept {
  return now().node;
}

void set_cluster_route(const std::string& host, const std::string& gateway,
                       const std::string& node) {
  auto* r = new route{host, gateway, node, current().load(std::memory_order_acquire)};
  current().store(r, std::memory_order_release); // the old one stays: see route
  ::setenv("ACTORS_CLUSTER_HOST", host.c_str(), 1);
  ::setenv("ACTORS_GATEWAY", gateway.c_str(), 1);
  ::setenv("ACTORS_CLUSTER_NODE", node.c_str(), 1);
}

std::string host_endpoint(const std::string& name) {
  const auto& me = cluster_host();
  if (me.empty())
    throw error(errc::bad_argument, "spawn(on_host(\"" + name
                                      + "\")): this process is not part of a cluster "
                                        "(see actors::cluster::listen and join)");
  if (name == me)
    return cluster_node();
  return name + ":/"; // "/": that host's gateway names its node
}

bool is_remote_endpoint(const std::string& endpoint) noexcept {
  return !endpoint.empty() && endpoint[0] != '/' && endpoint.find(":/") != std::string::npos;
}

std::pair<std::string, std::string> split_endpoint(const std::string& endpoint) {
  auto colon = endpoint.find(":/");
  return {endpoint.substr(0, colon), endpoint.substr(colon + 1)};
}

std::string endpoint_to_wire(const std::string& endpoint) {
  const auto& host = cluster_host();
  if (host.empty() || endpoint.empty() || endpoint[0] != '/')
    return endpoint;
  return host + ":" + endpoint;
}

std::string endpoint_from_wire(std::string endpoint) {
  const auto& host = cluster_host();
  if (!host.empty() && endpoint.size() > host.size() + 1
      && endpoint.compare(0, host.size(), host) == 0 && endpoint[host.size()] == ':'
      && endpoint[host.size() + 1] == '/')
    endpoint.erase(0, host.size() + 1);
  return endpoint;
}

unique_fd connect_endpoint(const std::string& endpoint, int* pid) {
  int served_by = 0;
  unique_fd fd;
  if (is_remote_endpoint(endpoint)) {
    fd = dial_remote(endpoint, served_by);
  } else {
    fd = connect_unix(endpoint);
    if (fd)
      served_by = peer_pid(fd.get());
  }
  if (pid)
    *pid = served_by;
  return fd;
}

unique_fd dial_remote(const std::string& endpoint, int& pid) {
  auto [host, path] = split_endpoint(endpoint);
  const auto& gw = gateway_path();
  if (gw.empty())
    throw error(errc::host_unreachable,
                "cannot reach " + endpoint + ": this process is not part of a cluster "
                "(no gateway; see actors::cluster::listen and join)");
  auto fd = connect_unix(gw);
  if (!fd)
    throw error(errc::host_unreachable, "cannot reach " + endpoint + ": this host's gateway at "
                                          + gw + " does not answer (" + std::strerror(errno)
                                          + "); its node has ended");
  auto ask = encode(std::make_pair(host, path));
  if (!send_frame(fd.get(), frame_kind::object, ask.data(), ask.size(), {}))
    throw error(errc::host_unreachable, "cannot reach " + endpoint + ": the gateway closed");
  frame_header h{};
  std::string answer, why;
  std::vector<int> fds;
  // The gateway answers within its link's heartbeat timeout, even when the
  // other host is gone; this bound only guards against a stuck gateway.
  auto st = recv_frame(fd.get(), h, answer, fds, std::chrono::seconds(30), why);
  for (int f : fds)
    ::close(f);
  if (st != recv_status::ok)
    throw error(errc::host_unreachable,
                "cannot reach " + endpoint + ": this host's gateway gave no answer"
                  + (why.empty() ? std::string() : " (" + why + ")"));
  auto [code, remote_pid, message] = decode<std::tuple<std::int32_t, std::int32_t, std::string>>(answer);
  if (code != 0)
    throw error(static_cast<errc>(code), message);
  pid = remote_pid;
  return fd;
}

} // namespace actors::detail
