// pool_options.hpp: the options of a pool and of its tasks are plain values
// that reach the pool as set; values the pool cannot use are refused when it
// starts, with errc::bad_argument.

#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace {

using namespace std::chrono_literals;
using actors::errc;
using test_util::error_of;

void nothing() {}

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int plus_one(int x) {
  return x + 1;
}

TEST(pool_options, defaults_are_pythons) {
  auto c = actors::pool_options().config();
  EXPECT_EQ(c.processes, 0); // cpu_count()
  EXPECT_EQ(c.maxtasksperchild, 0);
  EXPECT_EQ(c.max_retries, 0);
  EXPECT_EQ(c.task_timeout, actors::forever);
  EXPECT_FALSE(c.on_demand);
  EXPECT_FALSE(c.initializer.has_value());
  EXPECT_EQ(c.method, actors::get_start_method());
}

TEST(pool_options, every_setting_reaches_the_config) {
  auto c = actors::pool_options()
             .processes(3)
             .maxtasksperchild(5)
             .max_retries(2)
             .on_demand()
             .task_timeout(2s)
             .method(actors::start_method::spawn)
             .initializer(nothing)
             .config();
  EXPECT_EQ(c.processes, 3);
  EXPECT_EQ(c.maxtasksperchild, 5);
  EXPECT_EQ(c.max_retries, 2);
  EXPECT_TRUE(c.on_demand);
  EXPECT_EQ(c.task_timeout, actors::duration(2s));
  EXPECT_EQ(c.method, actors::start_method::spawn);
  EXPECT_TRUE(c.initializer.has_value());
  ASSERT_NE(c.initializer_fds, nullptr);
}

TEST(pool_options, a_copy_is_its_own_value) {
  auto base = actors::pool_options().processes(2);
  auto changed = base;
  changed.processes(7).max_retries(1);
  EXPECT_EQ(base.config().processes, 2);
  EXPECT_EQ(base.config().max_retries, 0);
  EXPECT_EQ(changed.config().processes, 7);
}

TEST(pool_options, bad_values_are_refused_when_the_pool_starts) {
  EXPECT_EQ(error_of([] { actors::pool p(actors::pool_options().processes(-1)); }),
            errc::bad_argument);
  EXPECT_EQ(error_of([] { actors::pool p(actors::pool_options().max_retries(-1)); }),
            errc::bad_argument);
  EXPECT_EQ(error_of([] { actors::pool p(actors::pool_options().maxtasksperchild(-1)); }),
            errc::bad_argument);
}

TEST(task_options, a_timeout_set_per_call_stops_only_that_task) {
  actors::pool pool(1);
  auto slow = pool.apply_async_with(actors::task_options().timeout(200ms), sleep_ms, 5000);
  EXPECT_EQ(error_of([&] { slow.get(20s); }), errc::timeout);
  auto fine = pool.apply_async(plus_one, 41);
  EXPECT_EQ(fine.get(20s), 42); // on the worker that replaced the killed one
  pool.terminate();
}

} // namespace
