// actors::process_pool_executor (executor.hpp): Python's ProcessPoolExecutor
// on real worker processes: submit and futures, map over one or several
// ranges, shutdown, terminate_workers and kill_workers, workers on demand,
// and a dead worker that fails only its own task.

#include "pool_tasks.hpp"
#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <list>
#include <thread>

using namespace std::chrono_literals;
using pool_tasks::square;
using pool_tasks::timed_sleep;
using pool_tasks::expect_one_at_a_time;
using pool_tasks::add;
using pool_tasks::sleep_ms;
using pool_tasks::throw_on_three;
using actors::errc;
using test_util::error_of;
using test_util::seconds_since;

namespace {

int worker_pid_of_sum(int, int) {
  return ::getpid();
}

int sleep_both(int ms, int more_ms) {
  return sleep_ms(ms + more_ms);
}

int throw_on_three_of_sum(int a, int b) {
  return throw_on_three(a + b);
}

// Its worker dies of SIGKILL on 2; squares any other number.
int square_or_die_on_two(int x) {
  if (x == 2)
    ::raise(SIGKILL);
  return x * x;
}

} // namespace

TEST(executor, with_one_worker_and_max_tasks_per_child_keeps_one_worker) {
  actors::process_pool_executor ex(1, actors::pool_options().maxtasksperchild(2));
  std::vector<actors::future<std::pair<std::int64_t, std::int64_t>>> fs;
  for (int i = 0; i < 8; ++i)
    fs.push_back(ex.submit(timed_sleep, 30));
  expect_one_at_a_time(ex.underlying_pool(), fs);
}

TEST(executor, with_one_worker_and_two_tasks_per_child_finishes) {
  // Python's ProcessPoolExecutor(1, max_tasks_per_child=2) hangs here.
  actors::process_pool_executor ex(1, actors::pool_options().maxtasksperchild(2));
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 10; ++i)
    fs.push_back(ex.submit(square, i));
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(20s), i * i);
}

TEST(executor, futures) {
  actors::process_pool_executor ex(2);
  auto f = ex.submit(square, 6);
  EXPECT_EQ(f.result(5s), 36);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.exception(), nullptr);
  auto bad = ex.submit(throw_on_three, 3);
  auto e = bad.exception(5s);
  ASSERT_NE(e, nullptr);
  EXPECT_THROW(std::rethrow_exception(e), actors::remote_error);
  std::atomic<int> called{0};
  f.add_done_callback([&](const actors::future<int>&) { ++called; }); // done: runs now
  EXPECT_EQ(called.load(), 1);
  std::vector<int> mapped;
  for (int v : ex.map(square, std::vector<int>{1, 2, 3}))
    mapped.push_back(v);
  EXPECT_EQ(mapped, (std::vector<int>{1, 4, 9}));
}

TEST(executor, cancel_and_shutdown) {
  actors::process_pool_executor ex(1);
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(ex.submit(sleep_ms, 50));
  // Once the first task runs (its worker may take a while to start under a
  // sanitizer), it can no longer be cancelled; the last one still can.
  auto t0 = std::chrono::steady_clock::now();
  while (!fs.front().running() && !fs.front().done() && seconds_since(t0) < 20)
    std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(fs.front().running() || fs.front().done());
  EXPECT_TRUE(fs.back().cancel());
  EXPECT_TRUE(fs.back().cancelled());
  EXPECT_EQ(error_of([&] { fs.back().result(); }), errc::cancelled);
  EXPECT_FALSE(fs.front().cancel()); // running already
  ex.shutdown(true, true);
  int done = 0, cancelled = 0;
  for (auto& f : fs) {
    ASSERT_TRUE(f.done());
    (f.cancelled() ? cancelled : done)++;
  }
  EXPECT_GE(done, 1);
  EXPECT_GE(cancelled, 10);
  EXPECT_EQ(error_of([&] { ex.submit(square, 1); }), errc::closed);
}

TEST(executor, map_timeout) {
  actors::process_pool_executor ex(1);
  auto it = ex.map(sleep_ms, std::vector<int>{10, 2000}, 300ms);
  EXPECT_EQ(*it.next(), 10);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { it.next(); }), errc::timeout);
  EXPECT_LT(seconds_since(t0), 1.0);
  ex.underlying_pool().terminate();
}

namespace {

std::string repeat(const std::string& s, int times) {
  std::string out;
  for (int i = 0; i < times; ++i)
    out += s;
  return out;
}

template <class Range>
auto collect_all(Range&& results) {
  std::vector<std::decay_t<decltype(*results.begin())>> out;
  for (auto& v : results)
    out.push_back(v);
  return out;
}

} // namespace

TEST(executor, map_zips_several_ranges_and_stops_at_the_shortest) {
  actors::process_pool_executor ex(2);
  std::vector<long> xs{1, 2, 3, 4};
  std::list<long> ys{10, 20, 30};
  EXPECT_EQ(collect_all(ex.map(add, xs, ys)), (std::vector<long>{11, 22, 33}));
  EXPECT_EQ(collect_all(ex.map(add, std::vector<long>{1, 2}, std::vector<long>{5, 6, 7})),
            (std::vector<long>{6, 8}));
  EXPECT_EQ(collect_all(ex.map(add, xs, ys, 10s, 2)), (std::vector<long>{11, 22, 33}));
  EXPECT_EQ(collect_all(ex.map(repeat, std::vector<std::string>{"a", "bc"}, std::vector<int>{3, 2})),
            (std::vector<std::string>{"aaa", "bcbc"}));
  EXPECT_TRUE(collect_all(ex.map(add, xs, std::vector<long>{})).empty());
  // Each call ran in a worker process, not here.
  std::vector<int> ones(20, 1);
  for (int pid : ex.map(worker_pid_of_sum, ones, ones))
    EXPECT_NE(pid, ::getpid());
}

TEST(executor, map_of_several_ranges_times_out_and_reports_task_errors) {
  actors::process_pool_executor ex(1);
  auto slow = ex.map(sleep_both, std::vector<int>{10, 2000}, std::vector<int>{0, 0}, 300ms);
  EXPECT_EQ(*slow.next(), 10);
  EXPECT_EQ(error_of([&] { slow.next(); }), errc::timeout);
  ex.underlying_pool().terminate();
  actors::process_pool_executor ex2(1);
  auto failing = ex2.map(throw_on_three_of_sum, std::vector<int>{1, 1, 2}, std::vector<int>{0, 2, 2});
  EXPECT_EQ(*failing.next(), 1);
  EXPECT_EQ(error_of([&] { failing.next(); }), errc::remote_error);
  EXPECT_EQ(*failing.next(), 4);
  EXPECT_FALSE(failing.next());
}

namespace {

// A task the executor can only stop with SIGKILL: it ignores SIGTERM, says
// so through the event its worker was given at start-up (events cannot be
// task arguments), then sleeps far past the test's time limit.
actors::event* sigterm_ignored = nullptr;
void keep_event(actors::event e) {
  sigterm_ignored = new actors::event(e);
}
int ignore_sigterm_and_sleep(int) {
  ::signal(SIGTERM, SIG_IGN);
  sigterm_ignored->set();
  std::this_thread::sleep_for(120s);
  return 0;
}

} // namespace

// Python 3.14: running futures fail, pending ones are cancelled, the workers
// are gone and the executor is shut down.
TEST(executor, terminate_workers_ends_running_and_pending_futures) {
  actors::process_pool_executor ex(2);
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(ex.submit(sleep_ms, 30000));
  auto t0 = std::chrono::steady_clock::now();
  while (!(fs[0].running() && fs[1].running()) && seconds_since(t0) < 10)
    std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(fs[0].running() && fs[1].running());
  auto pids = ex.underlying_pool().pids();
  ASSERT_EQ(pids.size(), 2u);
  t0 = std::chrono::steady_clock::now();
  ex.terminate_workers();
  EXPECT_LT(seconds_since(t0), 5.0);
  int closed = 0, cancelled = 0;
  for (auto& f : fs) {
    ASSERT_TRUE(f.done());
    auto e = error_of([&] { f.result(); });
    EXPECT_TRUE(e == errc::closed || e == errc::cancelled) << static_cast<int>(e);
    (e == errc::closed ? closed : cancelled)++;
  }
  EXPECT_GE(closed, 2);
  EXPECT_GE(cancelled, 1);
  for (int pid : pids)
    EXPECT_FALSE(test_util::alive(pid)) << pid;
  EXPECT_EQ(error_of([&] { ex.submit(square, 1); }), errc::closed);
  ex.terminate_workers(); // idempotent
  ex.kill_workers();
}

TEST(executor, kill_workers_stops_a_worker_that_ignores_sigterm) {
  actors::event ready;
  actors::process_pool_executor ex(1, actors::pool_options().initializer(keep_event, ready));
  auto f = ex.submit(ignore_sigterm_and_sleep, 0);
  ASSERT_TRUE(ready.wait(10s));
  int pid = ex.underlying_pool().pids().at(0);
  auto t0 = std::chrono::steady_clock::now();
  ex.kill_workers();
  // SIGKILL at once; terminate_workers() would wait its grace second here.
  EXPECT_LT(seconds_since(t0), 0.9);
  EXPECT_FALSE(test_util::alive(pid));
  EXPECT_EQ(error_of([&] { f.result(1s); }), errc::closed);
  EXPECT_EQ(error_of([&] { ex.submit(square, 1); }), errc::closed);
}

// From a callback (on the service loop, which runs the supervisor) it would
// wait for itself: it refuses before it cancels anything.
TEST(executor, terminate_workers_from_a_callback_is_an_error_that_changes_nothing) {
  actors::process_pool_executor ex(1);
  std::atomic<errc> refused{errc::none};
  auto first = ex.submit(sleep_ms, 50);
  first.add_done_callback([&](const actors::future<int>&) {
    refused = error_of([&] { ex.terminate_workers(); });
  });
  std::vector<actors::future<int>> rest;
  for (int i = 0; i < 4; ++i)
    rest.push_back(ex.submit(sleep_ms, 10));
  EXPECT_EQ(first.result(10s), 50);
  EXPECT_EQ(refused.load(), errc::bad_argument);
  for (auto& f : rest)
    EXPECT_EQ(f.result(10s), 10);
}

TEST(executor, terminate_workers_after_shutdown_is_harmless) {
  actors::process_pool_executor ex(1);
  auto f = ex.submit(square, 4);
  ex.shutdown();
  ex.terminate_workers();
  EXPECT_EQ(f.result(1s), 16);
}

// Python 3.9+ (test_idle_process_reuse_*): no worker before the first task,
// one worker for tasks that come one at a time, more only for tasks that
// find every worker busy, never more than max_workers.
TEST(executor, starts_workers_on_demand_and_reuses_idle_ones) {
  actors::process_pool_executor ex(4);
  EXPECT_TRUE(ex.underlying_pool().pids().empty());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(ex.submit(square, i).result(10s), i * i);
  EXPECT_EQ(ex.underlying_pool().pids().size(), 1u);
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(ex.submit(sleep_ms, 500));
  for (auto& f : fs)
    EXPECT_EQ(f.result(20s), 500);
  auto busy = ex.underlying_pool().pids();
  EXPECT_EQ(busy.size(), 4u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(ex.submit(square, i).result(10s), i * i);
  EXPECT_EQ(ex.underlying_pool().pids(), busy);
}

// -- the contract, beyond what the tests above cover ------------------------------

// Unlike Python's executor, which breaks: only the task whose worker died
// fails, with worker_died; the worker is replaced and the others go on.
TEST(executor, a_dead_worker_fails_only_its_task_and_is_replaced) {
  actors::process_pool_executor ex(2);
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(ex.submit(square_or_die_on_two, i));
  for (int i = 0; i < 6; ++i) {
    auto& f = fs[static_cast<std::size_t>(i)];
    if (i == 2) {
      EXPECT_EQ(error_of([&] { f.result(20s); }), errc::worker_died);
    } else {
      EXPECT_EQ(f.result(20s), i * i) << "task " << i;
    }
  }
  EXPECT_EQ(ex.underlying_pool().restarts(), 1u);
  EXPECT_EQ(ex.submit(square, 7).result(10s), 49);
}

// max_workers 0 is cpu_count(): that many workers at most, however many
// tasks find them busy.
TEST(executor, zero_workers_means_cpu_count) {
  int n = actors::cpu_count();
  ASSERT_GE(n, 1);
  actors::process_pool_executor ex(0);
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < n + 2; ++i)
    fs.push_back(ex.submit(sleep_ms, 300));
  for (auto& f : fs)
    EXPECT_EQ(f.result(30s), 300);
  EXPECT_EQ(ex.underlying_pool().pids().size(), static_cast<std::size_t>(n));
}

// shutdown() without cancel_futures lets every queued task finish, waits
// for the workers to exit, and may be called again.
TEST(executor, shutdown_finishes_queued_futures_and_is_idempotent) {
  actors::process_pool_executor ex(1);
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 5; ++i)
    fs.push_back(ex.submit(sleep_ms, 20 + i));
  ex.shutdown();
  for (int i = 0; i < 5; ++i) {
    auto& f = fs[static_cast<std::size_t>(i)];
    ASSERT_TRUE(f.done()) << "task " << i;
    EXPECT_FALSE(f.cancelled());
    EXPECT_EQ(f.result(), 20 + i);
  }
  EXPECT_TRUE(ex.underlying_pool().pids().empty());
  ex.shutdown(); // idempotent
  ex.shutdown(false, true);
  EXPECT_EQ(error_of([&] { ex.submit(square, 1); }), errc::closed);
}

// The one-range map: a task's error comes where its result would be, and
// the results after it follow.
TEST(executor, map_reports_a_task_error_where_its_result_would_be) {
  actors::process_pool_executor ex(2);
  auto it = ex.map(throw_on_three, std::vector<int>{1, 2, 3, 4});
  EXPECT_EQ(*it.next(), 1);
  EXPECT_EQ(*it.next(), 2);
  try {
    it.next();
    ADD_FAILURE() << "the third item's error was not thrown";
  } catch (const actors::remote_error& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "three is not allowed");
  }
  EXPECT_EQ(*it.next(), 4);
  EXPECT_FALSE(it.next());
}

// map's timeout is counted from the call, not from each next(): a next()
// made late waits only for what is left of it.
TEST(executor, map_timeout_is_counted_from_the_call) {
  actors::process_pool_executor ex(1);
  auto t0 = std::chrono::steady_clock::now();
  auto it = ex.map(sleep_ms, std::vector<int>{10, 10, 5000}, 2s);
  EXPECT_EQ(*it.next(), 10);
  EXPECT_EQ(*it.next(), 10);
  std::this_thread::sleep_for(1500ms);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { it.next(); }), errc::timeout);
  EXPECT_LT(seconds_since(t1), 1.0); // not a fresh 2 s
  EXPECT_GE(seconds_since(t0), 1.9);
  ex.underlying_pool().terminate();
}

// kill_workers() from a callback is refused as terminate_workers() is, and
// changes nothing.
TEST(executor, kill_workers_from_a_callback_is_an_error_that_changes_nothing) {
  actors::process_pool_executor ex(1);
  std::atomic<errc> refused{errc::none};
  auto first = ex.submit(sleep_ms, 50);
  first.add_done_callback([&](const actors::future<int>&) {
    refused = error_of([&] { ex.kill_workers(); });
  });
  auto second = ex.submit(sleep_ms, 10);
  EXPECT_EQ(first.result(10s), 50);
  EXPECT_EQ(second.result(10s), 10);
  EXPECT_EQ(refused.load(), errc::bad_argument);
  EXPECT_EQ(ex.submit(square, 3).result(10s), 9);
}

// shutdown(false) returns at once; the running and queued tasks still
// finish, and nothing more may be submitted.
TEST(executor, shutdown_without_wait_returns_at_once_and_the_tasks_still_finish) {
  actors::process_pool_executor ex(1);
  auto running = ex.submit(sleep_ms, 500);
  auto queued = ex.submit(sleep_ms, 10);
  auto t0 = std::chrono::steady_clock::now();
  ex.shutdown(false);
  EXPECT_LT(seconds_since(t0), 0.3);
  EXPECT_EQ(error_of([&] { ex.submit(square, 1); }), errc::closed);
  EXPECT_EQ(running.result(10s), 500);
  EXPECT_EQ(queued.result(10s), 10);
}
