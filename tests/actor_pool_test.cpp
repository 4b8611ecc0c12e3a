// Actor pools: asks and map spread over members in their own processes, a
// member killed in the middle of a map, with and without retries.

#include "actor_util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <numeric>
#include <set>

namespace {

struct squarer {
  int calls = 0;
  int square(int x) {
    ++calls;
    return x * x;
  }
  int slow_square(int x) {
    std::this_thread::sleep_for(10ms);
    return x * x;
  }
  int pid() const { return ::getpid(); }
  int count() const { return calls; }
};

std::vector<int> upto(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

} // namespace

TEST(actor_pool, map_spreads_asks_over_its_members_and_keeps_their_order) {
  actors::actor_pool<squarer> pool(2, actors::actor_pool_options());
  ASSERT_EQ(pool.size(), 2u);
  std::set<int> pids;
  for (auto& m : pool.members())
    pids.insert(m.ask(&squarer::pid).get(5s));
  EXPECT_EQ(pids.size(), 2u);
  EXPECT_EQ(pids.count(::getpid()), 0u);

  auto fs = pool.map(&squarer::square, upto(2000));
  ASSERT_EQ(fs.size(), 2000u);
  for (int i = 0; i < 2000; ++i)
    ASSERT_EQ(fs[i].get(10s), i * i);
  // Both members worked.
  for (auto& m : pool.members())
    EXPECT_GT(m.ask(&squarer::count).get(5s), 100);

  // Ray's form: a function of the member and the item.
  auto gs = pool.map([](const actors::actor<squarer>& a, int v) { return a.ask(&squarer::square, v + 1); },
                     upto(10));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(gs[i].get(5s), (i + 1) * (i + 1));
  EXPECT_EQ(pool.ask(&squarer::square, 12).get(5s), 144);
  pool.stop();
}

TEST(actor_pool, a_member_killed_mid_map_fails_its_asks_and_is_replaced) {
  actors::actor_pool<squarer> pool(2, actors::actor_pool_options());
  int victim = pool.members()[0].ask(&squarer::pid).get(5s);
  auto fs = pool.map(&squarer::slow_square, upto(60));
  std::this_thread::sleep_for(100ms);
  ::kill(victim, SIGKILL);
  int ok = 0, died = 0;
  for (int i = 0; i < 60; ++i) {
    try {
      EXPECT_EQ(fs[i].get(10s), i * i);
      ++ok;
    } catch (const actors::actor_died& e) {
      ++died;
    }
  }
  EXPECT_GT(died, 0);
  EXPECT_GT(ok, 0);
  // The member came back: new asks reach both members again.
  auto until = std::chrono::steady_clock::now() + 10s;
  while (pool.supervisor().children().at(0).pid == victim || !pool.supervisor().children().at(0).running) {
    ASSERT_LT(std::chrono::steady_clock::now(), until);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_NE(pool.members()[0].ask(&squarer::pid).get(5s), victim);
  EXPECT_EQ(pool.supervisor().restarts(), 1u);
  auto again = pool.map(&squarer::square, upto(100));
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(again[i].get(10s), i * i);
  pool.stop();
}

TEST(actor_pool, with_retries_a_member_killed_mid_map_loses_no_result) {
  actors::actor_pool<squarer> pool(2, actors::actor_pool_options().max_retries(3));
  int victim = pool.members()[1].ask(&squarer::pid).get(5s);
  auto fs = pool.map(&squarer::slow_square, upto(60));
  std::this_thread::sleep_for(100ms);
  ::kill(victim, SIGKILL);
  for (int i = 0; i < 60; ++i)
    EXPECT_EQ(fs[i].get(20s), i * i) << "item " << i;
  EXPECT_EQ(pool.supervisor().restarts(), 1u);
  pool.stop();
}

TEST(actor_pool, bad_arguments_are_clear_errors) {
  EXPECT_THROW(actors::actor_pool<squarer>(0, actors::actor_pool_options()), actors::error);
  EXPECT_THROW(actors::actor_pool<squarer>(1, actors::actor_pool_options().max_retries(-1)),
               actors::error);
}
