#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

using namespace std::chrono_literals;
using actors::errc;
using test_util::error_of;

namespace {
void add_many(actors::mutex lock, long* total, int n) {
  for (int i = 0; i < n; ++i) {
    std::lock_guard<actors::mutex> hold(lock);
    ++*total;
  }
}

enum class leave { by_return, by_system_exit, by_std_exit };

// Starts a non-daemon thread that, once `go` is set, writes `path` and puts
// 1 on `q`; then leaves at once, in the way `how` says.
void start_a_thread_and_leave(actors::event go, std::string path, actors::queue<int> q,
                              leave how) {
  actors::thread t([go, path, q]() mutable {
    if (!go.wait(20s))
      return;
    test_util::write_file(path, "done");
    q.put(1);
  });
  t.start();
  if (how == leave::by_system_exit)
    throw actors::system_exit(0);
  if (how == leave::by_std_exit)
    std::exit(0);
}

// As start_a_thread_and_leave(by_return), with a daemon thread running too
// (it waits for an event nobody sets and is abandoned at exit).
void start_both_kinds_and_return(actors::event go, std::string path, actors::queue<int> q) {
  actors::thread d([] { (void) actors::event().wait(20s); });
  d.daemon(true).start();
  start_a_thread_and_leave(go, path, q, leave::by_return);
}

// Starts `p`, whose thread waits for `go`: the child must not end before
// `go` is set, and then the thread's file and put must both be there.
void expect_child_waits_for_its_thread(actors::process& p, actors::event& go,
                                       test_util::temp_dir& dir, actors::queue<int>& q) {
  p.start();
  EXPECT_FALSE(p.join(300ms)) << "the child exited while its non-daemon thread ran";
  go.set();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(test_util::read_file(dir.file("done")), "done");
  EXPECT_EQ(q.try_get(5s), 1) << "the thread's put was lost";
}

class thread_at_child_exit : public ::testing::TestWithParam<leave> {};
} // namespace

TEST(thread, a_running_daemon_thread_does_not_stop_the_wait_for_the_others) {
  test_util::temp_dir dir;
  actors::event go;
  actors::queue<int> q;
  actors::process p(start_both_kinds_and_return, go, dir.file("done"), q);
  expect_child_waits_for_its_thread(p, go, dir, q);
}

// Python joins non-daemon threads before a process ends, and before anything
// else stops; so must a child, however its target ends normally.
TEST_P(thread_at_child_exit, the_child_waits_for_its_non_daemon_thread) {
  test_util::temp_dir dir;
  actors::event go;
  actors::queue<int> q;
  actors::process p(start_a_thread_and_leave, go, dir.file("done"), q, GetParam());
  expect_child_waits_for_its_thread(p, go, dir, q);
}

INSTANTIATE_TEST_SUITE_P(thread, thread_at_child_exit,
                         ::testing::Values(leave::by_return, leave::by_system_exit,
                                           leave::by_std_exit),
                         [](const auto& info) {
                           return info.param == leave::by_return        ? "return"
                                  : info.param == leave::by_system_exit ? "system_exit"
                                                                        : "std_exit";
                         });

TEST(thread, lifecycle_like_python) {
  std::atomic<int> ran{0};
  actors::thread t([&ran](int n) { ran += n; }, 5);
  EXPECT_EQ(t.name().rfind("Thread-", 0), 0u);
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(error_of([&] { t.join(); }), errc::not_started);
  t.name("worker").daemon(false).start();
  t.join();
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(ran.load(), 5);
  EXPECT_NE(t.native_id(), 0);
  EXPECT_EQ(error_of([&] { t.start(); }), errc::already_started);
  EXPECT_EQ(error_of([&] { t.daemon(true); }), errc::already_started);
}

TEST(thread, join_timeout_and_is_alive) {
  actors::event go;
  actors::thread t([go]() mutable { go.wait(10s); });
  t.start();
  EXPECT_TRUE(t.is_alive());
  EXPECT_FALSE(t.join(50ms));
  go.set();
  EXPECT_TRUE(t.join(5s));
  EXPECT_FALSE(t.is_alive());
}

TEST(thread, process_locks_guard_threads_too) {
  actors::mutex lock;
  long total = 0;
  std::vector<actors::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back(add_many, lock, &total, 20000);
    ts.back().start();
  }
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(total, 80000);
}

TEST(thread, an_exception_is_reported_and_ends_the_thread) {
  test_util::temp_dir dir;
  auto path = dir.file("err");
  {
    test_util::capture_stderr capture(path);
    actors::thread t([] { throw std::runtime_error("boom"); });
    t.name("thrower").start();
    t.join();
  }
  auto text = test_util::read_file(path);
  EXPECT_NE(text.find("Exception in thread thrower:"), std::string::npos) << text;
  EXPECT_NE(text.find("std::runtime_error: boom"), std::string::npos) << text;
}

TEST(thread, a_thread_cannot_join_itself) {
  auto self = std::make_shared<std::optional<actors::thread>>();
  std::atomic<int> code{-1};
  actors::event ready;
  self->emplace([self, &code, ready]() mutable {
    ready.wait(5s);
    code = static_cast<int>(error_of([&] { (*self)->join(); }));
  });
  (*self)->start();
  ready.set();
  (*self)->join();
  EXPECT_EQ(code.load(), static_cast<int>(errc::join_self));
  self->reset();
}
