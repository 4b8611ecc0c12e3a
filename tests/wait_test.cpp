// wait.hpp: actors::wait over processes, pipe ends, queues and plain
// descriptors at once (Python's multiprocessing.connection.wait).

#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using actors::errc;
using actors::process;
using test_util::error_of;
using test_util::seconds_since;

void put_later(actors::queue<int> q, int value) {
  std::this_thread::sleep_for(100ms);
  q.put(value);
}

TEST(wait, waits_on_processes_pipes_and_queues_at_once) {
  actors::queue<int> q;
  auto [mine, theirs] = actors::pipe<int>();
  process putter(put_later, q, 42);
  putter.start();
  EXPECT_TRUE(actors::wait({mine, q}, 20ms).empty());
  auto ready = actors::wait({mine, q}, 10s);
  ASSERT_EQ(ready, std::vector<std::size_t>{1});
  EXPECT_EQ(q.get_nowait(), 42); // the fetch wait() started is completed here
  theirs.send(7);
  ready = actors::wait({putter, mine, q}, 10s);
  ASSERT_FALSE(ready.empty());
  EXPECT_EQ(ready.back(), 1u);
  EXPECT_EQ(mine.recv(), 7);
  putter.join();
  EXPECT_EQ(actors::wait({putter}, 1s), std::vector<std::size_t>{0});
  q.put(5);
  q.put(6);
  EXPECT_EQ(q.get(), 5);
  EXPECT_EQ(actors::wait({q}, 5s), std::vector<std::size_t>{0});
  EXPECT_EQ(q.get(), 6);
}

TEST(wait, a_plain_descriptor_is_ready_when_readable) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_TRUE(actors::wait({fds[0]}, 10ms).empty());
  ASSERT_EQ(::write(fds[1], "x", 1), 1);
  EXPECT_EQ(actors::wait({fds[0]}, 1s), std::vector<std::size_t>{0});
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(wait, every_ready_object_is_listed_in_order) {
  auto [a_mine, a_theirs] = actors::pipe<int>();
  auto [b_mine, b_theirs] = actors::pipe<int>();
  auto [c_mine, c_theirs] = actors::pipe<int>();
  c_theirs.send(3);
  a_theirs.send(1);
  EXPECT_EQ(actors::wait({a_mine, b_mine, c_mine}, 1s), (std::vector<std::size_t>{0, 2}));
}

TEST(wait, the_timeout_is_kept_when_nothing_is_ready) {
  auto [mine, theirs] = actors::pipe<int>();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(actors::wait({mine}, 100ms).empty());
  auto took = seconds_since(t0);
  EXPECT_GE(took, 0.09);
  EXPECT_LT(took, 5.0);
}

void nothing() {}

TEST(wait, a_process_never_started_is_a_clear_error) {
  process p(nothing);
  EXPECT_EQ(error_of([&] { (void) actors::wait({p}, 10ms); }), errc::not_started);
}

} // namespace
