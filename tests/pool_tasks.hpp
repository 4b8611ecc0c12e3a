#pragma once
// What the pool, executor and imap tests share: task functions (a worker
// finds a task by its address in the program, architecture.md, "Finding the
// target without registration", so one inline definition serves every test
// file) and checks.

#include "test_util.hpp"

#include <actors/pool.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace pool_tasks {

inline int square(int x) {
  return x * x;
}

inline long add(long a, long b) {
  return a + b;
}

inline int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

inline int throw_on_three(int x) {
  if (x == 3)
    throw std::invalid_argument("three is not allowed");
  return x;
}

// When a task ran, on the machine-wide monotonic clock (the same in every
// process).
inline std::pair<std::int64_t, std::int64_t> timed_sleep(int ms) {
  auto now = [] { return std::chrono::steady_clock::now().time_since_epoch().count(); };
  auto start = now();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return {start, now()};
}

// With one worker, tasks run one at a time and in order, however often the
// worker is replaced; pids() never lists more than one. Each future gives its
// task's start and end time.
inline void expect_one_at_a_time(
  actors::pool& pool, std::vector<actors::future<std::pair<std::int64_t, std::int64_t>>>& fs) {
  using namespace std::chrono_literals;
  std::size_t most = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> spans;
  for (auto& f : fs) {
    while (!f.wait(5ms))
      most = std::max(most, pool.pids().size());
    spans.push_back(f.get(30s));
  }
  for (std::size_t i = 1; i < spans.size(); ++i)
    EXPECT_LE(spans[i - 1].second, spans[i].first) << "task " << i << " started before task "
                                                   << i - 1 << " ended";
  EXPECT_EQ(most, 1u);
}

// Every pid in `pids` has exited within two seconds.
inline void expect_gone_soon(const std::vector<int>& pids) {
  using namespace std::chrono_literals;
  for (int pid : pids) {
    bool gone = false;
    for (int i = 0; i < 20 && !gone; ++i) {
      gone = !test_util::alive(pid);
      if (!gone)
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(gone) << "worker " << pid << " still runs";
  }
}

} // namespace pool_tasks
