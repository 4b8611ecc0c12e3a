// Queue throughput across processes: one producer to one consumer, and four
// producers to four consumers on a bounded queue; Python's multiprocessing.Queue
// doing the same in the same run.

#include "harness.hpp"

#include <actors/all.hpp>

#include <chrono>

namespace {

void produce(actors::queue<int> q, int n) {
  for (int i = 0; i < n; ++i)
    q.put(i);
}

void consume(actors::queue<int> q, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i)
    sum += q.get();
  if (sum < 0)
    throw actors::system_exit(2);
}

// `producers` x `consumers` processes move `total` items through a queue of
// `maxsize`.
void move_items(int producers, int consumers, int total, std::uint64_t maxsize) {
  actors::queue<int> q(maxsize);
  std::vector<actors::process> ps;
  for (int c = 0; c < consumers; ++c)
    ps.emplace_back(consume, q, total / consumers);
  for (int p = 0; p < producers; ++p)
    ps.emplace_back(produce, q, total / producers);
  for (auto& p : ps)
    p.start();
  for (auto& p : ps)
    p.join();
}

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  auto py = bench::run_python("mp_queue.py");
  int n = bench::quick() ? 400'000 : 2'000'000;
  int rounds = bench::quick() ? 2 : 3;
  // 4p4c first: the server's memory high-water mark after it shows that a
  // bounded queue keeps memory bounded (the unbounded 1p1c run may not).
  double four = n / bench::best_seconds(rounds, [&] { move_items(4, 4, n, 1000); });
  double rss = bench::status_mb(0, "VmHWM:");
  double one = n / bench::best_seconds(rounds, [&] { move_items(1, 1, n, 0); });
  bench::emit("queue.1p1c", one, "items/s", bench::lookup(py, "1p1c"), std::nullopt);
  bench::emit("queue.4p4c", four, "items/s", bench::lookup(py, "4p4c"), std::nullopt);
  bench::emit("queue.4p4c.server_peak_rss", rss, "MB", std::nullopt, std::nullopt);
}
