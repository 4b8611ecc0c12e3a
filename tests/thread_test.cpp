#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <atomic>
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
} // namespace

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
