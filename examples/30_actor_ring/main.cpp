// A ring of actors, each in its own process: a token goes around the ring
// by tells, each member passing it to the next. The first member reports
// when the token has made all its rounds.
#include <actors/all.hpp>
#include <iostream>

struct ring_member {
  actors::actor<ring_member> next;
  actors::promise<long> finished;
  bool first = false;
  long rounds_left = 0;
  void link_to(actors::actor<ring_member> n) { next = n; }
  // The first member starts the token and answers when it is done.
  actors::promise<long> start(long rounds) {
    first = true;
    rounds_left = rounds;
    next.tell(&ring_member::token, 1L);
    return finished;
  }
  void token(long hops) {
    if (first && --rounds_left == 0) {
      finished.set_value(hops);
      return;
    }
    next.tell(&ring_member::token, hops + 1);
  }
};

int main() {
  actors::node node;
  const int n = 8;
  const long rounds = 2000;
  std::vector<actors::actor<ring_member>> ring;
  for (int i = 0; i < n; ++i)
    ring.push_back(actors::spawn<ring_member>(actors::in_new_process));
  for (int i = 0; i < n; ++i)
    ring[i].ask(&ring_member::link_to, ring[(i + 1) % n]).get();
  auto t0 = std::chrono::steady_clock::now();
  long hops = ring[0].ask(&ring_member::start, rounds).get(std::chrono::seconds(60));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "ring of " << n << " actor processes, " << rounds << " rounds: token = " << hops
            << " hops\n";
  std::cout << "round trip: " << static_cast<long>(rounds / s) << " rounds/s ("
            << static_cast<long>(hops / s) << " hops/s)\n";
}
