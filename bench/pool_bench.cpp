// Pool throughput: map over 1M ints (200k with --quick) with the default
// chunk size, map with chunksize 1, pipelined apply_async, the latency of one
// apply_async(f).get() at a time, and starting a 64-worker pool that
// completes a map; Python's multiprocessing.Pool doing the same in this run.

#include "harness.hpp"

#include <actors/all.hpp>

#include <algorithm>
#include <chrono>
#include <numeric>

namespace {

int twice(int x) {
  return 2 * x;
}

using bench::check;

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  auto py = bench::run_python("mp_pool.py");
  bool quick = bench::quick();
  actors::pool pool(2);
  auto per_second = [](double count) {
    return [count](double s) { return count / s; };
  };

  std::vector<int> million(quick ? 200'000 : 1'000'000); // as Python's
  std::iota(million.begin(), million.end(), 0);
  auto map_s = bench::measure([&] {
    return bench::seconds([&] {
      auto out = pool.map(twice, million);
      check(out.size() == million.size() && out.back() == 2 * million.back(), "map");
    });
  });
  bench::emit("pool.map", bench::map(map_s, per_second(static_cast<double>(million.size()))),
              "items/s", bench::lookup(py, "map"),
              std::nullopt, {});

  std::vector<int> items(quick ? 50'000 : 200'000);
  std::iota(items.begin(), items.end(), 0);
  auto chunk1_s = bench::measure([&] {
    return bench::seconds([&] {
      auto out = pool.map(twice, items, 1);
      check(out.size() == items.size(), "map chunksize 1");
    });
  });
  bench::emit("pool.map_chunksize1",
              bench::map(chunk1_s, per_second(static_cast<double>(items.size()))), "items/s",
              bench::lookup(py, "map_chunksize1"), std::nullopt, {});

  int tasks = quick ? 20'000 : 100'000;
  auto apply_s = bench::measure([&] {
    return bench::seconds([&] {
      std::vector<actors::future<int>> fs;
      fs.reserve(static_cast<std::size_t>(tasks));
      for (int i = 0; i < tasks; ++i)
        fs.push_back(pool.apply_async(twice, i));
      long sum = 0;
      for (auto& f : fs)
        sum += f.get();
      check(sum == static_cast<long>(tasks) * (tasks - 1), "apply_async");
    });
  });
  bench::emit("pool.apply_async", bench::map(apply_s, per_second(tasks)), "tasks/s",
              bench::lookup(py, "apply_async"), std::nullopt, {});

  // One task at a time, submit to result: each round's figure is the median
  // of its calls; "p99" is over every timed call.
  {
    const int calls = quick ? 200 : 2000;
    std::vector<double> all;
    auto s = bench::measure([&] {
      std::vector<double> us;
      for (int i = 0; i < calls; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        int r = pool.apply_async(twice, i).get();
        us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
        check(r == 2 * i, "apply_async(f).get()");
      }
      all.insert(all.end(), us.begin(), us.end());
      return bench::summarize(us).median;
    });
    all.erase(all.begin(), all.begin() + calls); // the warm-up round
    std::sort(all.begin(), all.end());
    double p99 = all[all.size() * 99 / 100];
    bench::emit("pool.apply_latency", s, "us", bench::lookup(py, "apply_latency_us"), std::nullopt,
                {}, {{"p99", p99}});
  }

  std::vector<int> small(640);
  std::iota(small.begin(), small.end(), 0);
  auto start64 = bench::measure([&] {
    return bench::seconds([&] {
      actors::pool big(64);
      check(big.map(twice, small).size() == small.size(), "64-worker map");
    });
  });
  bench::emit("pool.start_map_64", start64, "s", bench::lookup(py, "start_map_64"), std::nullopt, {});
}
