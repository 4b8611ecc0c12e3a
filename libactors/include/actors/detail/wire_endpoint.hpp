#pragma once
// How an endpoint (a socket path) is written into a message. In a cluster
// it is qualified with its host's name as it is encoded ("h2:/tmp/..."),
// and this host's own are made local again as they are decoded; outside
// one both are the identity. Defined in libactors/src/io/route.cpp.
// Actor addresses, queue handles and manager proxies use it. Not API.

#include <string>

namespace actors::detail {

/// This host's name in the cluster; empty outside one.
const std::string& cluster_host() noexcept;
/// An endpoint as it is written into a message: qualified with this host's
/// name inside a cluster, unchanged outside one or when already qualified.
std::string endpoint_to_wire(const std::string& endpoint);
/// An endpoint read from a message: this host's own are made local again.
std::string endpoint_from_wire(std::string endpoint);

} // namespace actors::detail
