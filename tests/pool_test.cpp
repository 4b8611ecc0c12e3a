#include "pool_tasks.hpp"
#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using pool_tasks::square;
using pool_tasks::timed_sleep;
using pool_tasks::expect_one_at_a_time;
using pool_tasks::expect_gone_soon;
using pool_tasks::add;
using pool_tasks::sleep_ms;
using pool_tasks::throw_on_three;
using actors::errc;
using test_util::error_of;
using test_util::seconds_since;

namespace {

std::string shout(const std::string& s) {
  return s + "!";
}

int worker_pid(int) {
  return ::getpid();
}

void nothing(int) {}

int slow_square(int x) {
  std::this_thread::sleep_for(20ms);
  return x * x;
}

// -- the crash matrix: a fault of some kind at some step of a task ---------------

enum fault { sigkill, segfault, exit0, exception };
enum step { decoding, running, encoding };

// Faults only in a worker, never in the test process that encodes it.
void do_fault(int kind) {
  switch (kind) {
    case sigkill:
      ::raise(SIGKILL);
      break;
    case segfault:
      ::raise(SIGSEGV);
      break;
    case exit0:
      ::_exit(0);
    default:
      throw std::runtime_error("injected fault");
  }
}

struct faulty {
  int kind = 0;
  int where = 0;
  int parent = 0;
  template <class Archive>
  void save(Archive& ar) const {
    ar(kind, where, parent);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(kind, where, parent);
    if (where == decoding && ::getpid() != parent)
      do_fault(kind);
  }
};

struct faulty_result {
  faulty f;
  template <class Archive>
  void save(Archive& ar) const {
    if (f.where == encoding && ::getpid() != f.parent)
      do_fault(f.kind);
    ar(f);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(f);
  }
};

faulty_result run_faulty(faulty f) {
  if (f.where == running)
    do_fault(f.kind);
  return {f};
}

// A result that encodes in the worker but does not decode in the caller.
struct undecodable {
  template <class Archive>
  void save(Archive& ar) const {
    ar(std::uint8_t{7});
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint8_t v;
    ar(v);
    throw std::runtime_error("this type refuses to be decoded");
  }
};

undecodable make_undecodable(int) {
  return {};
}

// An argument that refuses to be encoded in the caller.
struct unencodable {
  template <class Archive>
  void save(Archive&) const {
    throw std::runtime_error("this type refuses to be encoded");
  }
  template <class Archive>
  void load(Archive&) {}
};

int take_unencodable(unencodable) {
  return 1;
}

} // namespace

TEST(pool, map_returns_results_in_order) {
  actors::pool pool(2);
  std::vector<int> xs(1000);
  std::iota(xs.begin(), xs.end(), 0);
  auto out = pool.map(square, xs);
  ASSERT_EQ(out.size(), xs.size());
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(out[static_cast<std::size_t>(i)], i * i);
  EXPECT_EQ(pool.map(square, xs, 1).size(), 1000u);
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
  auto strings = pool.map(shout, std::vector<std::string>{"a", "b"});
  EXPECT_EQ(strings, (std::vector<std::string>{"a!", "b!"}));
  EXPECT_EQ(pool.map(nothing, xs).size(), 1000u);
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, std::vector<int>{1, 2}),
            (std::vector<int>{2, 3}));
}

TEST(pool, starmap_and_apply) {
  actors::pool pool(2);
  std::vector<std::tuple<long, long>> pairs{{1, 2}, {3, 4}, {5, 6}};
  EXPECT_EQ(pool.starmap(add, pairs), (std::vector<long>{3, 7, 11}));
  EXPECT_EQ(pool.apply(add, 40, 2), 42);
  EXPECT_EQ(pool.apply_async(square, 7).get(1s), 49);
  EXPECT_EQ(pool.map_async(square, std::vector<int>{1, 2, 3}).get(),
            (std::vector<int>{1, 4, 9}));
}

TEST(pool, default_chunksize_follows_python) {
  EXPECT_EQ(actors::detail::default_chunksize(1'000'000, 2), 125'000u);
  EXPECT_EQ(actors::detail::default_chunksize(10, 4), 1u);
  EXPECT_EQ(actors::detail::default_chunksize(17, 1), 5u);
  EXPECT_EQ(actors::detail::default_chunksize(0, 2), 1u);
}

TEST(pool, async_result_api) {
  actors::pool pool(1);
  auto f = pool.apply_async(sleep_ms, 300);
  EXPECT_FALSE(f.ready());
  EXPECT_EQ(error_of([&] { f.successful(); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { f.get(50ms); }), errc::timeout);
  EXPECT_FALSE(f.wait(10ms));
  EXPECT_TRUE(f.wait(5s));
  EXPECT_TRUE(f.ready());
  EXPECT_TRUE(f.successful());
  EXPECT_EQ(f.get(), 300);
  EXPECT_EQ(f.get(), 300); // a result can be read again
}

TEST(pool, apply_async_callbacks_run) {
  actors::pool pool(2);
  std::atomic<int> got{0};
  std::atomic<int> errors{0};
  auto ok = pool.apply_async(square, 5, [&](int r) { got = r; });
  auto bad = pool.apply_async(
    throw_on_three, 3, [&](int) { got = -1; },
    [&](const actors::error& e) { errors = e.value() == errc::remote_error ? 1 : 2; });
  ok.wait();
  bad.wait();
  EXPECT_EQ(got.load(), 25);
  EXPECT_EQ(errors.load(), 1);
}

// A callback that waits for another result of its own pool would deadlock
// (callbacks run on the service loop, which delivers results): it gets an
// error.
TEST(pool, waiting_inside_a_callback_is_an_error_not_a_hang) {
  actors::pool pool(2);
  std::atomic<int> code{-1};
  auto f = pool.apply_async(square, 3, [&](int) {
    code = static_cast<int>(error_of([&] { pool.apply(square, 4); }));
  });
  EXPECT_EQ(f.get(10s), 9);
  EXPECT_EQ(code.load(), static_cast<int>(errc::bad_argument));
  std::atomic<int> join_code{-1};
  auto g = pool.apply_async(square, 5, [&](int) {
    join_code = static_cast<int>(error_of([&] { pool.terminate(); }));
  });
  EXPECT_EQ(g.get(10s), 25);
  EXPECT_EQ(join_code.load(), static_cast<int>(errc::bad_argument));
  EXPECT_EQ(pool.apply(square, 6), 36); // the pool goes on
}

// Callbacks of every pool run on the node's service loop, which delivers
// the results of all of them: waiting there for another pool is refused too.
TEST(pool, waiting_for_another_pool_inside_a_callback_is_an_error_not_a_hang) {
  actors::pool first(1), second(1);
  std::atomic<int> code{-1};
  auto f = first.apply_async(square, 3, [&](int) {
    code = static_cast<int>(error_of([&] { second.apply(square, 4); }));
  });
  EXPECT_EQ(f.get(10s), 9);
  EXPECT_EQ(code.load(), static_cast<int>(errc::bad_argument));
  EXPECT_EQ(second.apply(square, 4), 16);
}

// The names of this process's threads, from /proc/self/task/*/comm.
std::vector<std::string> thread_names() {
  std::vector<std::string> names;
  for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (std::getline(comm, name))
      names.push_back(name);
  }
  return names;
}

// A pool's supervisor lives on the node's service loop, not on a thread of
// its own: two pools at work add at most that loop to a process that has
// started a child (which starts the root's transport).
TEST(pool, two_pools_add_no_thread_but_the_service_loop) {
  actors::process child(nothing, 0);
  child.start();
  child.join();
  auto before = thread_names();
  bool had_loop = std::count(before.begin(), before.end(), "actors.service") > 0;
  {
    actors::pool first(2), second(2);
    std::vector<int> xs(1000);
    std::iota(xs.begin(), xs.end(), 0);
    auto a = first.map_async(slow_square, std::vector<int>(xs.begin(), xs.begin() + 20), 1);
    auto b = second.map(square, xs);
    auto during = thread_names();
    EXPECT_EQ(b.at(999), 999 * 999);
    EXPECT_EQ(a.get(10s).at(19), 19 * 19);
    EXPECT_LE(during.size(), before.size() + (had_loop ? 0 : 1))
      << "before: " << ::testing::PrintToString(before)
      << ", during: " << ::testing::PrintToString(during);
    EXPECT_EQ(std::count(during.begin(), during.end(), "actors.pool"), 0);
    EXPECT_EQ(std::count(during.begin(), during.end(), "actors.service"), 1);
  }
  EXPECT_LE(thread_names().size(), before.size() + (had_loop ? 0 : 1));
}

TEST(pool, remote_error_names_type_message_pid_and_task) {
  actors::pool pool(2);
  auto pids = pool.pids();
  try {
    pool.map(throw_on_three, std::vector<int>{1, 2, 3, 4}, 2);
    FAIL() << "map should have thrown";
  } catch (const actors::remote_error& e) {
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
    EXPECT_EQ(e.message(), "three is not allowed");
    EXPECT_EQ(e.task(), "map chunk 1 (items 2..3)");
    EXPECT_TRUE(std::find(pids.begin(), pids.end(), e.pid()) != pids.end());
    EXPECT_NE(std::string(e.what()).find("raised std::invalid_argument in worker pid"),
              std::string::npos);
  }
  EXPECT_EQ(pool.apply(square, 3), 9); // the pool goes on
}

// Every fault kind at every step: only that future fails, with the right
// error; the pool replaces the worker and goes on.
TEST(pool, crash_matrix) {
  actors::pool pool(2);
  for (int kind : {sigkill, segfault, exit0, exception}) {
    for (int where : {decoding, running, encoding}) {
      SCOPED_TRACE("fault " + std::to_string(kind) + " at step " + std::to_string(where));
      auto other = pool.apply_async(slow_square, 6);
      auto f = pool.apply_async(run_faulty, faulty{kind, where, ::getpid()});
      try {
        f.get(20s);
        ADD_FAILURE() << "the faulty task succeeded";
      } catch (const actors::worker_died& e) {
        EXPECT_NE(kind, exception);
        bool check_signal = true;
#ifdef __SANITIZE_ADDRESS__
        // AddressSanitizer catches SIGSEGV, reports it, then exits or aborts
        // (as ASAN_OPTIONS say): the worker died either way.
        check_signal = kind != segfault;
#endif
        if (check_signal) {
          EXPECT_EQ(e.signal(), kind == sigkill ? SIGKILL : kind == segfault ? SIGSEGV : 0);
        }
        EXPECT_EQ(e.task().rfind("apply_async #", 0), 0u) << e.task();
        EXPECT_NE(std::string(e.what()).find("worker pid " + std::to_string(e.pid())),
                  std::string::npos);
      } catch (const actors::remote_error& e) {
        EXPECT_EQ(kind, exception);
        // Decoding wraps what a type's load() throws into errc::bad_payload.
        EXPECT_EQ(e.type_name(), where == decoding ? "actors::error" : "std::runtime_error");
        EXPECT_NE(e.message().find("injected fault"), std::string::npos);
        if (where == decoding) {
          EXPECT_NE(e.message().find("decoding its arguments"), std::string::npos);
        }
        if (where == encoding) {
          EXPECT_NE(e.message().find("encoding its result"), std::string::npos);
        }
      }
      EXPECT_EQ(other.get(20s), 36);
      EXPECT_EQ(pool.apply(square, 4), 16);
    }
  }
  EXPECT_GE(pool.restarts(), 9u);
  EXPECT_EQ(pool.pids().size(), 2u);
}

TEST(pool, retries_rerun_a_task_whose_worker_died) {
  actors::pool pool(actors::pool_options().processes(2).max_retries(1));
  // Dies every time: one retry, then worker_died.
  auto f = pool.apply_async(run_faulty, faulty{sigkill, running, ::getpid()});
  EXPECT_EQ(error_of([&] { f.get(20s); }), errc::worker_died);
  EXPECT_EQ(pool.restarts(), 2u);
}

TEST(pool, a_result_that_does_not_decode_fails_only_its_future) {
  actors::pool pool(2);
  auto f = pool.apply_async(make_undecodable, 1);
  EXPECT_EQ(error_of([&] { f.get(10s); }), errc::bad_payload);
  EXPECT_EQ(pool.apply(square, 5), 25);
}

namespace {
// A result whose load() in the caller throws something that is not a
// std::exception (CPython's test_exit_during_result_unpickle_in_result_handler).
struct exits_when_loaded {
  int parent = 0;
  template <class Archive>
  void save(Archive& ar) const {
    ar(parent);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(parent);
    if (::getpid() == parent)
      throw actors::system_exit(3);
  }
};

exits_when_loaded make_exits_when_loaded(int parent) {
  return {parent};
}
} // namespace

// load() throwing actors::system_exit (not a std::exception) fails that
// future only; it used to end the program (std::terminate).
TEST(pool, a_result_whose_load_throws_system_exit_fails_only_its_future) {
  actors::pool pool(2);
  auto f = pool.apply_async(make_exits_when_loaded, ::getpid());
  try {
    f.get(10s);
    ADD_FAILURE() << "get should have thrown";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_payload);
    std::string what = e.what();
    EXPECT_NE(what.find("apply_async #0"), std::string::npos) << what;
    EXPECT_NE(what.find("actors::system_exit"), std::string::npos) << what;
    EXPECT_NE(what.find("exit code 3"), std::string::npos) << what;
  }
  auto m = pool.map_async(make_exits_when_loaded, std::vector<int>(4, ::getpid()), 1);
  EXPECT_EQ(error_of([&] { m.get(10s); }), errc::bad_payload);
  auto it = pool.imap(make_exits_when_loaded, std::vector<int>{::getpid()});
  EXPECT_EQ(error_of([&] { it.next(10s); }), errc::bad_payload);
  EXPECT_EQ(pool.apply(square, 5), 25);
}

TEST(pool, an_argument_that_does_not_encode_fails_only_its_future) {
  actors::pool pool(2);
  auto f = pool.apply_async(take_unencodable, unencodable{});
  try {
    f.get(10s);
    FAIL() << "get should have thrown";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_payload);
    EXPECT_NE(std::string(e.what()).find("refuses to be encoded"), std::string::npos);
  }
  auto m = pool.map_async(take_unencodable, std::vector<unencodable>(3));
  EXPECT_EQ(error_of([&] { m.get(10s); }), errc::bad_payload);
  EXPECT_EQ(pool.apply(square, 5), 25);
}

void hold_mutex(int, actors::mutex m) {
  std::lock_guard<actors::mutex> hold(m);
}

TEST(pool, a_handle_with_a_descriptor_as_task_argument_names_its_type_and_the_way_out) {
  actors::pool pool(1);
  actors::mutex m;
  auto f = pool.apply_async(hold_mutex, 1, m);
  try {
    f.get(10s);
    FAIL() << "get should have thrown";
  } catch (const actors::error& e) {
    std::string what = e.what();
    EXPECT_EQ(e.value(), errc::bad_payload);
    EXPECT_NE(what.find("argument 2 (actors::mutex)"), std::string::npos) << what;
    EXPECT_NE(what.find("pool_options::initializer"), std::string::npos) << what;
    EXPECT_EQ(what.find("pipe end"), std::string::npos) << what;
  }
  EXPECT_EQ(pool.apply(square, 5), 25);
}

// 100k tasks while a random worker is SIGKILLed every 50 ms: every task ends
// exactly once, as a result or as worker_died, and nothing hangs.
void chaos(int retries) {
  actors::pool pool(actors::pool_options().processes(2).max_retries(retries));
  std::atomic<bool> stop{false};
  std::atomic<int> kills{0};
  std::thread killer([&] {
    std::mt19937 rng(42);
    while (!stop) {
      std::this_thread::sleep_for(50ms);
      auto pids = pool.pids();
      if (!pids.empty() && ::kill(pids[rng() % pids.size()], SIGKILL) == 0)
        ++kills;
    }
  });
  constexpr int n = 100'000;
  std::vector<actors::future<int>> fs;
  fs.reserve(n);
  for (int i = 0; i < n; ++i) // a 20 ms task every thousand: the run lasts about a second
    fs.push_back(pool.apply_async(sleep_ms, i % 1000 == 0 ? 20 : 0));
  int ok = 0, died = 0;
  std::string other;
  for (auto& f : fs) {
    try {
      f.get(60s);
      ++ok;
    } catch (const actors::worker_died&) {
      ++died;
    } catch (const actors::error& e) {
      other = e.what();
    }
  }
  stop = true;
  killer.join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(ok + died, n);
  if (retries > 0) {
    EXPECT_EQ(died, 0);
  }
  EXPECT_GT(kills.load(), 0);
  std::cout << "chaos: " << kills << " kills, " << ok << " results, " << died
            << " worker_died\n";
}

TEST(pool, chaos_every_task_ends_exactly_once) {
  chaos(0);
}

TEST(pool, chaos_with_retries_every_task_succeeds) {
  chaos(1000);
}

class maxtasks : public ::testing::TestWithParam<int> {};

TEST_P(maxtasks, recycles_workers_without_stranding_work) {
  int per_child = GetParam();
  actors::pool pool(actors::pool_options().processes(2).maxtasksperchild(per_child));
  std::vector<actors::future<int>> fs;
  for (int i = 0; i < 200; ++i)
    fs.push_back(pool.apply_async(worker_pid, i));
  std::set<int> pids;
  for (auto& f : fs)
    pids.insert(f.get(30s));
  EXPECT_GE(pids.size(), 200u / static_cast<std::size_t>(per_child));
  auto out = pool.map(square, std::vector<int>(100, 3), 1);
  EXPECT_EQ(out, std::vector<int>(100, 9));
}

INSTANTIATE_TEST_SUITE_P(pool, maxtasks, ::testing::Values(1, 2));

// Retired workers leave pids() once they exit, and their replacements take
// their places: a pool of 3 lists 3 live pids, and never "no free worker
// slot" in the log.
TEST(pool, maxtasksperchild_keeps_pids_exact) {
  test_util::temp_dir dir;
  auto log_path = dir.file("log");
  std::set<int> used;
  std::vector<int> pids;
  bool exact = false;
  {
    test_util::capture_stderr capture(log_path);
    actors::pool pool(3, actors::pool_options().maxtasksperchild(10));
    std::vector<actors::future<int>> fs;
    for (int i = 0; i < 100; ++i)
      fs.push_back(pool.apply_async(worker_pid, i));
    for (auto& f : fs)
      used.insert(f.get(30s));
    auto t0 = std::chrono::steady_clock::now();
    for (;;) { // the last retirees may still be on their way out
      pids = pool.pids();
      exact = pids.size() == 3 && std::all_of(pids.begin(), pids.end(), test_util::alive);
      if (exact || seconds_since(t0) > 5.0)
        break;
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_TRUE(exact) << pids.size() << " pids listed, some perhaps gone";
  EXPECT_GE(used.size(), 10u);
  auto log = test_util::read_file(log_path);
  EXPECT_EQ(log.find("could not be started"), std::string::npos) << log;
}

TEST(pool, one_worker_with_maxtasksperchild_runs_tasks_in_order) {
  actors::pool pool(1, actors::pool_options().maxtasksperchild(1));
  std::vector<actors::future<std::pair<std::int64_t, std::int64_t>>> fs;
  for (int i = 0; i < 6; ++i)
    fs.push_back(pool.apply_async(timed_sleep, 30));
  expect_one_at_a_time(pool, fs);
}

TEST(pool, task_timeout_kills_only_the_overrunning_worker) {
  actors::pool pool(2);
  auto t0 = std::chrono::steady_clock::now();
  auto slow = pool.apply_async_with(actors::task_options().timeout(200ms), sleep_ms, 10'000);
  auto fast = pool.apply_async(square, 8);
  EXPECT_EQ(error_of([&] { slow.get(10s); }), errc::timeout);
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_EQ(fast.get(5s), 64);
  EXPECT_EQ(pool.apply(square, 9), 81);
  EXPECT_EQ(pool.restarts(), 1u);
}

TEST(pool, close_join_and_terminate) {
  actors::pool pool(2);
  EXPECT_EQ(error_of([&] { pool.join(); }), errc::bad_argument);
  auto f = pool.map_async(slow_square, std::vector<int>{1, 2, 3, 4}, 1);
  pool.close();
  EXPECT_EQ(error_of([&] { pool.apply(square, 1); }), errc::closed);
  EXPECT_TRUE(pool.join(10s));
  EXPECT_EQ(f.get(), (std::vector<int>{1, 4, 9, 16})); // queued work finished
  EXPECT_TRUE(pool.pids().empty());

  actors::pool other(2);
  auto g = other.apply_async(sleep_ms, 10'000);
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  other.terminate();
  EXPECT_LT(seconds_since(t0), 3.0);
  EXPECT_EQ(error_of([&] { g.get(1s); }), errc::closed);
}

namespace {
actors::value<int>* init_counter = nullptr;
void init_worker(actors::value<int> v) {
  v.fetch_add(1);
  init_counter = new actors::value<int>(v);
}
int read_init_counter(int) {
  return init_counter ? init_counter->load() : -1;
}
void failing_init() {
  throw std::logic_error("no database");
}
} // namespace

TEST(pool, initializer_runs_once_per_worker_with_handles) {
  actors::value<int> started(0);
  {
    actors::pool pool(actors::pool_options().processes(3).initializer(init_worker, started));
    EXPECT_GE(pool.apply(read_init_counter, 0), 1);
    pool.close();
    pool.join();
  }
  EXPECT_EQ(started.load(), 3);
}

TEST(pool, a_failing_initializer_breaks_the_pool_with_a_clear_error) {
  actors::pool pool(actors::pool_options().processes(2).initializer(failing_init));
  auto t0 = std::chrono::steady_clock::now();
  try {
    pool.apply(square, 2);
    FAIL() << "apply should have thrown";
  } catch (const actors::remote_error& e) {
    EXPECT_EQ(e.task(), "the pool's initializer");
    EXPECT_EQ(e.type_name(), "std::logic_error");
  }
  EXPECT_LT(seconds_since(t0), 10.0);
}


TEST(pool, wait_and_as_completed) {
  actors::process_pool_executor ex(3);
  std::vector<actors::future<int>> fs{ex.submit(sleep_ms, 600), ex.submit(sleep_ms, 10),
                                      ex.submit(sleep_ms, 300)};
  auto first = actors::wait(fs, actors::return_when::first_completed, 5s);
  ASSERT_GE(first.done.size(), 1u);
  EXPECT_EQ(first.done[0].result(), 10);
  EXPECT_GE(first.not_done.size(), 1u);

  std::vector<int> order;
  for (auto& f : actors::as_completed(fs, 10s))
    order.push_back(f.result());
  EXPECT_EQ(order, (std::vector<int>{10, 300, 600}));

  auto all = actors::wait(fs);
  EXPECT_EQ(all.done.size(), 3u);
  EXPECT_TRUE(all.not_done.empty());

  std::vector<actors::future<int>> mixed{ex.submit(throw_on_three, 3), ex.submit(sleep_ms, 2000)};
  auto t0 = std::chrono::steady_clock::now();
  auto failed = actors::wait(mixed, actors::return_when::first_exception, 10s);
  EXPECT_LT(seconds_since(t0), 1.5);
  EXPECT_EQ(failed.done.size(), 1u);

  std::vector<actors::future<int>> slow{ex.submit(sleep_ms, 2000)};
  actors::as_completed<int> stream(slow, 100ms);
  EXPECT_EQ(error_of([&] { stream.next(); }), errc::timeout);
  ex.underlying_pool().terminate();
}

namespace {

// In a child: a pool runs a long map; the test sends this process SIGINT.
void interrupted_map(actors::connection<std::vector<int>> report) {
  actors::pool pool(2);
  report.send(pool.pids());
  auto t0 = std::chrono::steady_clock::now();
  try {
    pool.map(sleep_ms, std::vector<int>(1000, 50), 1);
  } catch (const actors::keyboard_interrupt&) {
    auto ms = static_cast<int>(seconds_since(t0) * 1000);
    report.send({ms});
    return;
  }
  report.send({-1});
}
} // namespace

TEST(pool, sigint_interrupts_a_long_map_and_stops_the_workers) {
  auto [mine, theirs] = actors::pipe<std::vector<int>>(false);
  actors::process p(interrupted_map, theirs);
  p.start();
  auto pids = mine.recv(10s);
  ASSERT_EQ(pids.size(), 2u);
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  ::kill(p.pid(), SIGINT);
  auto answer = mine.recv(5s);
  EXPECT_LT(seconds_since(t0), 1.0); // the call threw within a second
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_GE(answer[0], 0);
  ASSERT_TRUE(p.join(10s));
  EXPECT_EQ(p.exitcode(), 0);
  expect_gone_soon(pids);
  EXPECT_LT(seconds_since(t0), 3.0);
}

// maxtasksperchild=-1; none of them may start a pool.
TEST(pool, negative_sizes_are_bad_arguments) {
  auto message_of = [](auto&& make) {
    try {
      make();
    } catch (const actors::error& e) {
      EXPECT_EQ(e.value(), errc::bad_argument) << e.what();
      return std::string(e.what());
    }
    ADD_FAILURE() << "no error";
    return std::string();
  };
  EXPECT_NE(message_of([] { actors::pool p(-1); }).find("-1"), std::string::npos);
  EXPECT_NE(message_of([] { actors::process_pool_executor ex(-1); }).find("-1"),
            std::string::npos);
  EXPECT_NE(message_of([] { actors::pool p(1, actors::pool_options().maxtasksperchild(-1)); })
              .find("maxtasksperchild"),
            std::string::npos);
}

TEST(pool, works_with_every_start_method) {
  for (auto m : {actors::start_method::forkserver, actors::start_method::spawn,
                 actors::start_method::fork}) {
    actors::pool pool(actors::pool_options().processes(2).method(m));
    EXPECT_EQ(pool.map(square, std::vector<int>{1, 2, 3}), (std::vector<int>{1, 4, 9}))
      << actors::to_string(m);
  }
}
