// actors/cluster.hpp and io/route.hpp without a second host: how endpoints
// of other hosts are written, and the errors a program gets before any
// link exists. The hosts themselves are tested in network namespaces
// (tests/cluster/netns.sh, the cluster.* tests).
#include <actors/all.hpp>
#include <actors/cluster.hpp>

#include "io/route.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace {

struct counter {
  int n = 0;
  int add(int k) { return n += k; }
};

template <class F>
std::string error_of(actors::errc want, F&& f) {
  try {
    f();
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), want) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

// Sets this process's route for one test and clears it after.
struct route_guard {
  explicit route_guard(const std::string& host) {
    actors::detail::set_cluster_route(host, "/nonexistent/gateway.sock", "/tmp/node.sock");
  }
  ~route_guard() { actors::detail::set_cluster_route("", "", ""); }
};

} // namespace

TEST(cluster, endpoints_of_other_hosts_name_their_host) {
  using namespace actors::detail;
  EXPECT_FALSE(is_remote_endpoint("/tmp/actors-1-x/actors.sock"));
  EXPECT_TRUE(is_remote_endpoint("h2:/tmp/actors-1-x/actors.sock"));
  EXPECT_FALSE(is_remote_endpoint(""));
  auto [host, path] = split_endpoint("h2:/tmp/a.sock");
  EXPECT_EQ(host, "h2");
  EXPECT_EQ(path, "/tmp/a.sock");
  // Outside a cluster nothing is qualified.
  EXPECT_EQ(endpoint_to_wire("/tmp/a.sock"), "/tmp/a.sock");
  route_guard here("h1");
  EXPECT_EQ(endpoint_to_wire("/tmp/a.sock"), "h1:/tmp/a.sock");
  EXPECT_EQ(endpoint_to_wire("h2:/tmp/a.sock"), "h2:/tmp/a.sock"); // already another host's
  EXPECT_EQ(endpoint_from_wire("h1:/tmp/a.sock"), "/tmp/a.sock");  // ours again
  EXPECT_EQ(endpoint_from_wire("h2:/tmp/a.sock"), "h2:/tmp/a.sock");
  EXPECT_EQ(endpoint_from_wire("h10:/tmp/a.sock"), "h10:/tmp/a.sock"); // not a prefix match
}

TEST(cluster, an_actor_address_crosses_hosts_qualified_and_comes_home_local) {
  auto c = actors::spawn<counter>();
  std::string bytes;
  {
    route_guard here("h1");
    bytes = actors::detail::encode(c);
    // Read on another host, it names h1.
    actors::detail::set_cluster_route("h2", "/nonexistent/gateway.sock", "/tmp/node.sock");
    auto there = actors::detail::decode<actors::actor<counter>>(bytes);
    EXPECT_EQ(actors::detail::handle_access::ref(there)->address.endpoint.str().rfind("h1:/", 0), 0u);
    // Read back on h1, it is this node's own again, and works.
    actors::detail::set_cluster_route("h1", "/nonexistent/gateway.sock", "/tmp/node.sock");
    auto home = actors::detail::decode<actors::actor<counter>>(bytes);
    EXPECT_EQ(home.ask(&counter::add, 2).get(std::chrono::seconds(5)), 2);
  }
}

TEST(cluster, options_that_cannot_work_are_refused_before_anything_starts) {
  namespace cl = actors::cluster;
  auto why = error_of(actors::errc::bad_argument,
                      [] { cl::listen("0.0.0.0", 0, cl::options().name("r")); });
  EXPECT_NE(why.find("no TLS files"), std::string::npos) << why;
  why = error_of(actors::errc::bad_argument, [] {
    cl::listen("10.1.2.3", 0, cl::options().plaintext_on_loopback());
  });
  EXPECT_NE(why.find("not a loopback address"), std::string::npos) << why;
  why = error_of(actors::errc::bad_argument, [] {
    cl::join("127.0.0.1", 1, cl::options().tls("/nonexistent.pem", "/k", "/ca"));
  });
  EXPECT_NE(why.find("cannot read the TLS file /nonexistent.pem"), std::string::npos) << why;
  why = error_of(actors::errc::bad_argument, [] {
    cl::listen("127.0.0.1", 0, cl::options().name("bad name!").plaintext_on_loopback());
  });
  EXPECT_NE(why.find("may hold only"), std::string::npos) << why;
  // Nothing started: this node is in no cluster.
  EXPECT_TRUE(cl::hosts().empty());
  EXPECT_EQ(cl::this_host(), "");
}

TEST(cluster, outside_a_cluster_other_hosts_are_a_clear_error) {
  auto why = error_of(actors::errc::bad_argument,
                      [] { actors::spawn<counter>(actors::on_host("h2")); });
  EXPECT_NE(why.find("not part of a cluster"), std::string::npos) << why;
  why = error_of(actors::errc::bad_argument, [] {
    actors::pool p(actors::pool_options().processes(1).hosts({"h2"}));
  });
  EXPECT_NE(why.find("not part of a cluster"), std::string::npos) << why;
  why = error_of(actors::errc::bad_argument,
                 [] { actors::cluster::wait_for_hosts(2, std::chrono::milliseconds(10)); });
}

TEST(cluster, a_host_the_gateway_does_not_know_is_unreachable) {
  route_guard here("h1"); // a gateway path where nothing listens
  auto why = error_of(actors::errc::host_unreachable,
                      [] { actors::spawn<counter>(actors::on_host("h2")); });
  EXPECT_NE(why.find("gateway"), std::string::npos) << why;
}
