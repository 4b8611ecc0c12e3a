// Pool throughput: map over 1M ints with the default chunk size, map with
// chunksize 1, pipelined apply_async, and starting a 64-worker pool that
// completes a map; Python's multiprocessing.Pool doing the same in this run.

#include "harness.hpp"

#include <actors/all.hpp>

#include <chrono>
#include <numeric>

namespace {

int twice(int x) {
  return 2 * x;
}

using bench::best_seconds;

using bench::check;

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  auto py = bench::run_python("mp_pool.py");
  bool quick = bench::quick();
  int rounds = quick ? 2 : 5;
  actors::pool pool(2);

  std::vector<int> million(1'000'000);
  std::iota(million.begin(), million.end(), 0);
  pool.map(twice, million); // warm up, as the Python side does
  double map_s = best_seconds(rounds, [&] {
    auto out = pool.map(twice, million);
    check(out.size() == million.size() && out.back() == 2 * million.back(), "map");
  });
  bench::emit("pool.map", 1e6 / map_s, "items/s", bench::lookup(py, "map"), std::nullopt);

  std::vector<int> items(quick ? 50'000 : 200'000);
  std::iota(items.begin(), items.end(), 0);
  double chunk1_s = best_seconds(rounds, [&] {
    auto out = pool.map(twice, items, 1);
    check(out.size() == items.size(), "map chunksize 1");
  });
  bench::emit("pool.map_chunksize1", static_cast<double>(items.size()) / chunk1_s, "items/s",
              bench::lookup(py, "map_chunksize1"), std::nullopt);

  int tasks = quick ? 20'000 : 100'000;
  double apply_s = best_seconds(rounds, [&] {
    std::vector<actors::future<int>> fs;
    fs.reserve(static_cast<std::size_t>(tasks));
    for (int i = 0; i < tasks; ++i)
      fs.push_back(pool.apply_async(twice, i));
    long sum = 0;
    for (auto& f : fs)
      sum += f.get();
    check(sum == static_cast<long>(tasks) * (tasks - 1), "apply_async");
  });
  bench::emit("pool.apply_async", tasks / apply_s, "tasks/s", bench::lookup(py, "apply_async"),
              std::nullopt);

  std::vector<int> small(640);
  std::iota(small.begin(), small.end(), 0);
  double start64 = best_seconds(quick ? 1 : 3, [&] {
    actors::pool big(64);
    check(big.map(twice, small).size() == small.size(), "64-worker map");
  });
  bench::emit("pool.start_map_64", start64, "s", bench::lookup(py, "start_map_64"), std::nullopt);
}
