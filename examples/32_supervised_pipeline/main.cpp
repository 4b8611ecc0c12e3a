// Topology: a supervised pipeline of actors.
//
//   main --map--> actor_pool<squarer> (3 worker processes, restarted by the
//                 pool's supervisor) --results--> sink (its own process,
//                 under an actors::supervisor)
//
// Each worker crashes (abort(): its process dies by SIGABRT) at random on
// about one item in 400, and at the latest on its 200th. Its asks in flight (the map sends all 2000 at once,
// so hundreds) fail with actor_died and are retried on another member
// (max_retries); its supervisor starts a new process. Every result reaches
// the sink exactly once, so the sum adds up.

#include <actors/all.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <random>
#include <unistd.h>

struct squarer {
  std::mt19937 rng{unsigned(::getpid())};
  int calls = 0;
  long square(long x) {
    if (++calls % 200 == 0 || rng() % 400 == 0)
      std::abort(); // a crash: at random, and at the latest on the 200th item
    return x * x;
  }
};

struct sink {
  long sum = 0;
  int count = 0;
  void add(long v) {
    sum += v;
    ++count;
  }
  long total() const { return sum; }
  int items() const { return count; }
};

int main() {
  actors::node node;
  std::cout.setf(std::ios::unitbuf);
  constexpr long n = 2000;
  const long expected = n * (n + 1) * (2 * n + 1) / 6;

  actors::supervisor sup(actors::supervisor_options().name("pipeline"));
  auto out = sup.spawn<sink>(actors::in_new_process, actors::child_spec("sink"));
  actors::actor_pool<squarer> workers(
    3, actors::actor_pool_options().name("squarers").max_retries(30).intensity(1000, std::chrono::seconds(5)));

  std::vector<long> items(n);
  std::iota(items.begin(), items.end(), 1);
  auto t0 = std::chrono::steady_clock::now();
  auto results = workers.map(&squarer::square, items);
  for (auto& r : results)
    out.tell(&sink::add, r.get(std::chrono::seconds(30))); // in order, to the sink
  long sum = out.ask(&sink::total).get(std::chrono::seconds(10));
  int count = out.ask(&sink::items).get(std::chrono::seconds(10));
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);

  std::cout << "items: " << count << ", sum at the sink: " << sum << " (expected " << expected
            << ")\n";
  std::cout << "worker crashes survived: " << workers.supervisor().restarts() << ", in "
            << static_cast<int>(ms.count()) << " ms\n";
  for (auto& c : workers.supervisor().children())
    std::cout << "  " << c.id << ": pid " << c.pid << ", " << c.restarts << " restarts"
              << (c.last_exit ? ", last exit: " + c.last_exit->describe() : std::string()) << '\n';
  workers.stop();
  sup.stop();
  return sum == expected && count == n && workers.supervisor().restarts() > 0 ? 0 : 1;
}
