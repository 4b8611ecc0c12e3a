// actors::imap_result (imap.hpp): the lazy results of pool::imap and
// pool::imap_unordered, on real worker processes: a bounded window over an
// endless or slow input, an input that throws, a chunk that fails,
// timeouts, the end of the iteration, and SIGINT while next() waits.

#include "pool_tasks.hpp"
#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using pool_tasks::square;
using pool_tasks::expect_gone_soon;
using pool_tasks::sleep_ms;
using pool_tasks::throw_on_three;
using actors::errc;
using test_util::error_of;
using test_util::seconds_since;

TEST(imap, over_an_endless_generator_is_lazy_and_bounded) {
  actors::pool pool(2);
  auto pulled = std::make_shared<std::atomic<long>>(0);
  long next = 0;
  auto endless = [&next, pulled]() -> std::optional<int> {
    ++*pulled;
    return static_cast<int>(next++ % 1000);
  };
  auto it = pool.imap(square, endless, actors::task_options().chunksize(4).max_in_flight(8));
  for (int i = 0; i < 5000; ++i) {
    auto v = it.next(10s);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, (i % 1000) * (i % 1000));
  }
  // At most the window (8 chunks of 4) ahead of what was consumed.
  EXPECT_LE(pulled->load(), 5000 + 8 * 4 + 1);
}

TEST(imap, reads_a_slow_input_as_it_comes) {
  actors::pool pool(2);
  int produced = 0;
  auto slow = [&produced]() -> std::optional<int> {
    if (produced == 20)
      return std::nullopt;
    std::this_thread::sleep_for(5ms);
    return produced++;
  };
  std::vector<int> got;
  for (int v : pool.imap(square, slow))
    got.push_back(v);
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(got[static_cast<std::size_t>(i)], i * i);
}

// As in CPython: the results before a failing input arrive first, then
// next() throws the input's exception, then the iteration ends.
TEST(imap, delivers_results_before_a_failing_input_then_throws_it) {
  actors::pool pool(2);
  for (bool ordered : {true, false}) {
    for (std::size_t chunk : {1u, 3u}) {
      int produced = 0;
      auto broken = [&produced]() -> std::optional<int> {
        if (produced == 5)
          throw std::domain_error("the input broke at item 5");
        return produced++;
      };
      auto options = actors::task_options().chunksize(chunk);
      auto it = ordered ? pool.imap(square, broken, options)
                        : pool.imap_unordered(square, broken, options);
      std::vector<int> got;
      for (int i = 0; i < 5; ++i) {
        auto v = it.next(10s);
        ASSERT_TRUE(v);
        got.push_back(*v);
      }
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, (std::vector<int>{0, 1, 4, 9, 16}));
      try {
        it.next(10s);
        ADD_FAILURE() << "next() should have thrown the input's exception";
      } catch (const std::domain_error& e) {
        EXPECT_STREQ(e.what(), "the input broke at item 5");
      }
      EXPECT_FALSE(it.next(10s));
    }
  }
}

TEST(imap, imap_unordered_returns_everything_once) {
  actors::pool pool(2);
  std::vector<int> xs(500);
  std::iota(xs.begin(), xs.end(), 0);
  std::multiset<int> got;
  for (int v : pool.imap_unordered(square, xs, 7))
    got.insert(v);
  ASSERT_EQ(got.size(), 500u);
  for (int x : xs)
    EXPECT_EQ(got.count(x * x), 1u);
}

TEST(imap, next_times_out_and_continues) {
  actors::pool pool(1);
  auto it = pool.imap(sleep_ms, std::vector<int>{300, 1});
  EXPECT_EQ(error_of([&] { it.next(50ms); }), errc::timeout);
  EXPECT_EQ(*it.next(5s), 300);
  EXPECT_EQ(*it.next(5s), 1);
  EXPECT_FALSE(it.next(5s));
}

namespace {
// In a child: imap or imap_unordered over tasks of `task_ms`; the test sends
// this process SIGINT. Reports the milliseconds until keyboard_interrupt, or
// -1 if the iteration ended without one.
void interrupted_imap(actors::connection<std::vector<int>> report, bool ordered, int task_ms) {
  actors::pool pool(2);
  report.send(pool.pids());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int> xs(100, task_ms);
  try {
    auto it = ordered ? pool.imap(sleep_ms, xs) : pool.imap_unordered(sleep_ms, xs);
    while (it.next()) {
    }
  } catch (const actors::keyboard_interrupt&) {
    report.send({static_cast<int>(seconds_since(t0) * 1000)});
    return;
  }
  report.send({-1});
}

struct imap_sigint_case {
  bool ordered;
  int task_ms;
  friend std::ostream& operator<<(std::ostream& os, const imap_sigint_case& c) {
    return os << (c.ordered ? "imap" : "imap_unordered") << " over " << c.task_ms << " ms tasks";
  }
};
} // namespace

class imap_sigint : public ::testing::TestWithParam<imap_sigint_case> {};

// A SIGINT that arrives while next() waits is never lost, even when the
// result it waits for arrives in the same moment (short tasks).
TEST_P(imap_sigint, interrupts_the_iteration_and_stops_the_workers) {
  auto [ordered, task_ms] = GetParam();
  auto [mine, theirs] = actors::pipe<std::vector<int>>(false);
  actors::process p(interrupted_imap, theirs, ordered, task_ms);
  p.start();
  auto pids = mine.recv(10s);
  ASSERT_EQ(pids.size(), 2u);
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  ::kill(p.pid(), SIGINT); // the main pid only, as `kill -INT pid` does
  auto answer = mine.try_recv(5s);
  if (!answer) { // not interrupted: do not leave it running
    p.kill();
    p.join(5s);
    FAIL() << "the imap went on for 5 s after SIGINT";
  }
  EXPECT_LT(seconds_since(t0), 1.0);
  ASSERT_EQ(answer->size(), 1u);
  EXPECT_GE((*answer)[0], 0) << "the iteration ended without keyboard_interrupt";
  ASSERT_TRUE(p.join(10s));
  EXPECT_EQ(p.exitcode(), 0);
  expect_gone_soon(pids);
}

INSTANTIATE_TEST_SUITE_P(imap, imap_sigint,
                         ::testing::Values(imap_sigint_case{true, 50}, imap_sigint_case{false, 50},
                                           imap_sigint_case{true, 200},
                                           imap_sigint_case{false, 200}),
                         [](const ::testing::TestParamInfo<imap_sigint_case>& info) {
                           return std::string(info.param.ordered ? "imap_" : "imap_unordered_")
                                  + std::to_string(info.param.task_ms) + "ms";
                         });


// -- the contract, beyond what the tests above cover ------------------------------

// A range-for loop gives every result in input order, a last chunk shorter
// than chunksize included.
TEST(imap, range_for_gives_every_result_in_order_with_a_short_last_chunk) {
  actors::pool pool(2);
  std::vector<int> xs(10);
  std::iota(xs.begin(), xs.end(), 0);
  std::vector<int> got;
  for (int r : pool.imap(square, xs, 3))
    got.push_back(r);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49, 64, 81}));
}

// next() gives nullopt at the end, and again on every later call; an empty
// input ends at once.
TEST(imap, the_end_is_nullopt_every_time) {
  actors::pool pool(1);
  auto empty = pool.imap(square, std::vector<int>{});
  EXPECT_FALSE(empty.next(5s));
  EXPECT_FALSE(empty.next(5s));
  EXPECT_TRUE(empty.begin() == empty.end());
  auto one = pool.imap_unordered(square, std::vector<int>{5});
  EXPECT_EQ(one.next(5s), std::optional<int>(25));
  EXPECT_FALSE(one.next(5s));
  EXPECT_FALSE(one.next(5s));
}

// A chunk that failed throws its task's error once, where its results would
// be; the iteration goes on with the next chunk.
TEST(imap, a_failed_chunk_throws_once_and_the_iteration_goes_on) {
  actors::pool pool(2);
  auto it = pool.imap(throw_on_three, std::vector<int>{1, 2, 3, 4, 5, 6}, 2);
  EXPECT_EQ(it.next(10s), std::optional<int>(1));
  EXPECT_EQ(it.next(10s), std::optional<int>(2));
  try {
    it.next(10s);
    ADD_FAILURE() << "the chunk of 3 and 4 did not fail";
  } catch (const actors::remote_error& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "three is not allowed");
  }
  EXPECT_EQ(it.next(10s), std::optional<int>(5)); // 4 was in the failed chunk
  EXPECT_EQ(it.next(10s), std::optional<int>(6));
  EXPECT_FALSE(it.next(10s));
}

// An input that throws before its first item: next() throws it once, then
// the iteration ends; imap() itself does not throw.
TEST(imap, an_input_that_fails_at_once_throws_from_the_first_next) {
  actors::pool pool(1);
  auto broken = []() -> std::optional<int> { throw std::domain_error("no items at all"); };
  auto it = pool.imap(square, broken);
  try {
    it.next(5s);
    ADD_FAILURE() << "next() did not throw the input's exception";
  } catch (const std::domain_error& e) {
    EXPECT_STREQ(e.what(), "no items at all");
  }
  EXPECT_FALSE(it.next(5s));
}

// imap_unordered gives results in the order they finish, not input order.
TEST(imap, imap_unordered_gives_results_as_they_finish) {
  actors::pool pool(2);
  auto it = pool.imap_unordered(sleep_ms, std::vector<int>{1500, 10});
  EXPECT_EQ(it.next(10s), std::optional<int>(10));
  EXPECT_EQ(it.next(10s), std::optional<int>(1500));
  EXPECT_FALSE(it.next(10s));
}
