#pragma once
// Actor classes and helpers shared by actor_test.cpp and
// actor_context_test.cpp.

#include <actors/all.hpp>

#include "test_util.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

struct counter {
  int n = 0;
  explicit counter(int start = 0) : n(start) {}
  int add(int k) { return n += k; }
  int get() const { return n; }
  int pid() const { return ::getpid(); }
  void fail(std::string why) { throw std::runtime_error(why); }
  int divide(int k) {
    if (k == 0)
      throw std::invalid_argument("division by zero");
    return n / k;
  }
  void stop() { actors::self().stop(); }
  void exit_with(int code) { ::_exit(code); }
  std::vector<int> seen;
  void record(int i) { seen.push_back(i); }
  std::vector<int> recorded() const { return seen; }
};

struct other {
  int get() const { return 7; }
};

// Asks another actor through a handle that arrived in a message.
struct relay {
  actors::promise<int> forward(actors::actor<counter> c, int k) {
    actors::promise<int> p;
    actors::self().then(c.ask(&counter::add, k), [p](actors::future<int> f) mutable {
      p.set_value(f.get() * 10);
    });
    return p;
  }
  std::string me() { return actors::self().handle(this).name(); }
  int ticks = 0;
  void start_ticking() {
    actors::self().every(5ms, [this] { ++ticks; });
  }
  int tick_count() const { return ticks; }
  actors::promise<int> later(int v) {
    actors::promise<int> p;
    actors::self().after(20ms, [p, v]() mutable { p.set_value(v); });
    return p;
  }
};

struct watcher {
  std::vector<std::string> downs;
  void watch(actors::actor<counter> c) {
    actors::self().monitor(c, [this](const actors::down& d) { downs.push_back(d.reason.describe()); });
  }
  void trap() {
    actors::self().trap_exit([this](const actors::down& d) { downs.push_back("trapped: " + d.reason.describe()); });
  }
  std::vector<std::string> seen() const { return downs; }
};

using test_util::eventually;

struct down_box {
  std::mutex mtx;
  std::condition_variable cv;
  std::optional<actors::down> d;
  std::chrono::steady_clock::time_point at;
  void set(const actors::down& x) {
    std::lock_guard<std::mutex> l(mtx);
    d = x;
    at = std::chrono::steady_clock::now();
    cv.notify_all();
  }
  bool wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> l(mtx);
    return cv.wait_for(l, limit, [&] { return d.has_value(); });
  }
};

} // namespace
