// Topology: a ring. N processes, each connected to the next by a pipe, pass
// a token around M times; the parent is part of the ring and reports the
// rate of hops.
//
//   parent -> ring-1 -> ring-2 -> ... -> ring-N -> parent

#include <actors/all.hpp>
#include <chrono>
#include <iostream>

void relay(actors::connection<long> in, actors::connection<long> out) {
  for (;;) {
    long token = in.recv();
    out.send(token + 1); // count the hop
    if (token < 0)
      return;
  }
}

int main() {
  actors::node node;
  constexpr int n = 8;
  constexpr long rounds = 2000;
  // Pipe i carries the token into ring member i (0: back to the parent).
  std::vector<actors::connection<long>> readers, writers;
  for (int i = 0; i <= n; ++i) {
    auto [r, w] = actors::pipe<long>(false);
    readers.push_back(r);
    writers.push_back(w);
  }
  std::vector<actors::process> ring;
  for (int i = 1; i <= n; ++i) {
    ring.emplace_back(relay, readers[i], writers[i == n ? 0 : i + 1]);
    ring.back().name("ring-" + std::to_string(i)).start();
  }
  auto t0 = std::chrono::steady_clock::now();
  long token = 0;
  for (long r = 0; r < rounds; ++r) {
    writers[1].send(token);
    token = readers[0].recv(std::chrono::seconds(30));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  writers[1].send(-1000000); // stop: every member passes it on and leaves
  readers[0].recv(std::chrono::seconds(30));
  for (auto& p : ring)
    p.join();
  std::cout << "ring of " << n << " processes, " << rounds << " rounds: token = " << token
            << " hops (expected " << n * rounds << ")\n";
  std::cout << "round trip: " << static_cast<long>(rounds / s) << " rounds/s, "
            << static_cast<long>(n * rounds / s) << " hops/s\n";
  return token == n * rounds ? 0 : 1;
}
