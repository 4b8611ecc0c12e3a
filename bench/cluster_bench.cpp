// The cluster across two hosts: network namespaces joined by a veth pair
// (bench/cluster.sh makes them and starts this program's worker host, the
// same program under actors-node, in the other one). Beside each figure,
// plain CAF over the same link in the same run: caf_peer_bench --connect
// to a caf_peer_bench --serve on the other host, with the same TLS files.
//
//   cluster_bench <root-address> <port> <certdir> <caf-peer-address> <caf-peer-port> [--quick]
//
// cluster.ask_rtt      ask round trip to an actor on the other host (us)
// cluster.tell         tells to it, then one ask (msgs/s)
// cluster.map_speedup  a map of CPU-bound tasks: 1 worker on this host,
//                      against 1 worker on each host (x)
#include "harness.hpp"

#include <actors/all.hpp>
#include <actors/cluster.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct counter {
  long n = 0;
  long add(long k) { return n += k; }
  void bump(long k) { n += k; }
  long get() const { return n; }
};

// About 5 ms of arithmetic.
long burn(long seed) {
  volatile long x = seed;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
  while (std::chrono::steady_clock::now() < until)
    for (int i = 0; i < 1000; ++i)
      x = x * 6364136223846793005L + 1442695040888963407L;
  return x;
}

} // namespace

int main(int argc, char** argv) {
  actors::node node; // the worker host (ACTORS_JOIN) never returns from here
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i)
    if (std::string(argv[i]) != "--quick" || i == 0)
      rest.push_back(argv[i]);
  bench::init(argc, argv);
  if (rest.size() != 6) {
    std::fprintf(stderr, "usage: cluster_bench <root-address> <port> <certdir> <caf-address> "
                         "<caf-port> [--quick]\n");
    return 2;
  }
  const bool quick = bench::quick();
  std::string address = rest[1], certs = rest[3];
  auto port = static_cast<std::uint16_t>(std::atoi(rest[2]));
  auto opts = actors::cluster::options().name("h1").tls(certs + "/h1.pem", certs + "/h1.key",
                                                       certs + "/ca.pem");
  actors::cluster::listen(address, port, opts);
  std::printf("LISTENING\n");
  std::fflush(stdout);
  actors::cluster::wait_for_hosts(2, std::chrono::seconds(60));

  std::vector<std::string> args = {"--connect", rest[4], rest[5], "--tls", certs, "--rounds",
                                   std::to_string(bench::round_count())};
  if (quick)
    args.push_back("--quick");
  const char* staged = std::getenv("CAF_PEER_BENCH"); // bench/cluster.sh's copy
  auto caf = bench::run_program(staged ? staged : std::string(BENCH_BIN_DIR) + "/caf_peer_bench", args);
  auto peer = [&](const char* key) {
    std::map<std::string, double> m;
    if (auto v = bench::lookup(caf, key))
      m["caf"] = *v;
    return m;
  };

  auto c = actors::spawn<counter>(actors::on_host("h2"));
  c.ask(&counter::get).get();
  auto rtt = bench::per_call([&] { c.ask(&counter::add, 1L).get(); });
  bench::emit("cluster.ask_rtt", bench::map(rtt, [](double s) { return s * 1e6; }), "us",
              std::nullopt, std::nullopt, peer("middleman_rtt_us"));

  const long n = quick ? 100000 : 500000;
  auto tell = bench::measure([&] {
    auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i)
      c.tell(&counter::bump, 1L);
    c.ask(&counter::get).get();
    return n / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
  bench::emit("cluster.tell", tell, "msgs/s", std::nullopt, std::nullopt, peer("middleman_tell_per_s"));

  // CPU-bound map: one worker here, against one worker on each host.
  {
    const int tasks = quick ? 40 : 200;
    std::vector<long> xs(tasks);
    for (int i = 0; i < tasks; ++i)
      xs[i] = i;
    actors::pool one(actors::pool_options().processes(1));
    actors::pool two(actors::pool_options().processes(2).hosts({"h1", "h2"}));
    auto [s1, s2] = bench::measure_pair(
      [&] { return bench::seconds([&] { one.map(burn, xs, 1); }); },
      [&] { return bench::seconds([&] { two.map(burn, xs, 1); }); });
    bench::emit("cluster.map_speedup", bench::stats{s1.median / s2.median, s1.min / s2.max, s1.max / s2.min},
                "x", std::nullopt, std::nullopt, {});
  }
  return 0;
}
