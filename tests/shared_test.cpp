// Python's multiprocessing.Value and Array (shared.hpp): actors::value,
// actors::array, raw_value and raw_array in shared memory, updated by real
// processes; their locks (or none), their errors, how they print, and that
// nothing is left in /dev/shm.

#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <dirent.h>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using actors::connection;
using actors::errc;
using actors::process;
using test_util::error_of;
using test_util::printed;

namespace {

// Seed 001: 9 processes add 50 each to a shared counter.
void add_fifty(actors::value<int> v) {
  for (int i = 0; i < 50; ++i)
    v.fetch_add(1);
}

// The same, as a compound update under the value's lock.
void add_fifty_locked(actors::value<long> v) {
  for (int i = 0; i < 50; ++i) {
    auto m = v.get_lock();
    std::lock_guard<actors::mutex> hold(m);
    v.store(v.load() + 1);
  }
}

void add_to_each(actors::array<long> a, long d) {
  for (std::size_t i = 0; i < a.size(); ++i)
    a[i].fetch_add(d);
}

struct point {
  int x, y;
};

void move_point(actors::value<point> p) {
  p.store({p.load().x + 1, 7});
}

std::size_t dev_shm_entries() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (::readdir(d))
      ++n;
    ::closedir(d);
  }
  return n;
}

// 50 compound updates of two elements under the array's lock: a[0] counts,
// a[1] is always twice a[0] for whoever holds the lock.
void count_and_double(actors::array<long> a, actors::value<int> broken) {
  for (int i = 0; i < 50; ++i) {
    auto m = a.get_lock();
    std::lock_guard<actors::mutex> hold(m);
    if (a[1].load() != 2 * a[0].load())
      broken.fetch_add(1);
    long next = a[0].load() + 1;
    std::this_thread::yield();
    a[0].store(next);
    a[1].store(2 * next);
  }
}

// Receives a value from a process that is already running, stores into it,
// and says so.
void store_what_arrives(connection<actors::value<int>> in, connection<int> done) {
  auto v = in.recv(10s);
  v.store(99);
  done.send(v.load());
}

} // namespace

TEST(value, nine_processes_add_exactly_450) {
  actors::value<int> v(0);
  std::vector<process> ps;
  for (int i = 0; i < 9; ++i) {
    ps.emplace_back(add_fifty, v);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(v.load(), 450); // Python's seed printed 400
}

TEST(value, compound_updates_under_get_lock_are_exact) {
  actors::value<long> v(0);
  std::vector<process> ps;
  for (int i = 0; i < 9; ++i) {
    ps.emplace_back(add_fifty_locked, v);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(v.load(), 450);
}

TEST(value, operations) {
  actors::value<double> d(1.5);
  EXPECT_EQ(d.load(), 1.5);
  d = 2.5;
  EXPECT_EQ(static_cast<double>(d), 2.5);
  actors::value<int> i(5);
  EXPECT_EQ(i.fetch_sub(2), 5);
  EXPECT_EQ(i.exchange(10), 3);
  int expected = 10;
  EXPECT_TRUE(i.compare_exchange(expected, 11));
  EXPECT_EQ(i.load(), 11);
}

TEST(value, non_atomic_types_go_through_the_lock) {
  actors::value<point> p(point{1, 2});
  process child(move_point, p);
  child.start();
  child.join();
  EXPECT_EQ(p.load().x, 2);
  EXPECT_EQ(p.load().y, 7);
}

namespace {

void add_fifty_raw(actors::raw_value<int> v) {
  for (int i = 0; i < 50; ++i)
    v.fetch_add(1);
}

// Moves the point and reports whether the value that arrived has a lock.
void move_raw_point(actors::raw_value<point> p, connection<bool> has_lock) {
  p.store({p.load().x + 1, 7});
  has_lock.send(p.has_lock());
}

void add_to_each_raw(actors::raw_array<long> a, long d) {
  for (std::size_t i = 0; i < a.size(); ++i)
    a[i].fetch_add(d);
}

// A value and an array made with no_lock: do they still lack it here?
void report_locks(actors::value<int> v, actors::array<int> a, connection<int> out) {
  out.send(error_of([&] { (void) v.get_lock(); }) == errc::bad_argument
           && error_of([&] { (void) a.get_lock(); }) == errc::bad_argument);
  v.store(v.load() + a[0].load());
}

} // namespace

TEST(raw_value, nine_processes_add_exactly_450_without_a_lock) {
  actors::raw_value<int> v(0);
  EXPECT_FALSE(v.has_lock());
  std::vector<process> ps;
  for (int i = 0; i < 9; ++i) {
    ps.emplace_back(add_fifty_raw, v);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(v.load(), 450); // lock-free numbers stay atomic
}

TEST(raw_value, a_struct_crosses_processes_unguarded) {
  actors::raw_value<point> p(point{1, 2});
  auto [mine, theirs] = actors::pipe<bool>();
  process child(move_raw_point, p, theirs);
  child.start();
  theirs.close();
  EXPECT_FALSE(mine.recv(10s));
  child.join();
  EXPECT_EQ(p.load().x, 2);
  EXPECT_EQ(p.load().y, 7);
}

TEST(raw_array, processes_update_elements_without_a_lock) {
  actors::raw_array<long> a(4, 10);
  EXPECT_FALSE(a.has_lock());
  std::vector<process> ps;
  for (int i = 0; i < 3; ++i) {
    ps.emplace_back(add_to_each_raw, a, 5);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(a.to_vector(), (std::vector<long>{25, 25, 25, 25}));
  actors::raw_array<long> b{1, 2, 3};
  EXPECT_EQ(b.to_vector(), (std::vector<long>{1, 2, 3}));
}

TEST(value, no_lock_has_no_lock_here_and_in_a_child) {
  actors::value<int> v(1, actors::no_lock);
  actors::array<int> a({41}, actors::no_lock);
  EXPECT_EQ(error_of([&] { (void) v.get_lock(); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { (void) a.get_lock(); }), errc::bad_argument);
  EXPECT_TRUE(actors::value<int>(1).has_lock());
  auto [mine, theirs] = actors::pipe<int>();
  process child(report_locks, v, a, theirs);
  child.start();
  theirs.close();
  EXPECT_EQ(mine.recv(10s), 1);
  child.join();
  EXPECT_EQ(v.load(), 42);
}

TEST(value, prints_like_python_s_repr) {
  EXPECT_EQ(printed(actors::value<int>(3)), "<actors::value 3>");
  EXPECT_EQ(printed(actors::value<int>(3, actors::no_lock)), "<actors::raw_value 3>");
  EXPECT_EQ(printed(actors::raw_value<double>(1.5)), "<actors::raw_value 1.5>");
  EXPECT_EQ(printed(actors::array<long>{1, 2, 3}), "<actors::array [1, 2, 3]>");
  EXPECT_EQ(printed(actors::raw_array<int>(2, 7)), "<actors::raw_array [7, 7]>");
  EXPECT_EQ(printed(actors::array<int>()), "<actors::array []>");
}

TEST(array, processes_update_elements) {
  actors::array<long> a(4, 10);
  std::vector<process> ps;
  for (int i = 0; i < 3; ++i) {
    ps.emplace_back(add_to_each, a, 5);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(a.to_vector(), (std::vector<long>{25, 25, 25, 25}));
  actors::array<long> b{1, 2, 3};
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(b[2].load(), 3);
  EXPECT_EQ(error_of([&] { (void) b.at(3); }), errc::bad_argument);
}

TEST(shared_memory, nothing_is_left_in_dev_shm) {
  auto before = dev_shm_entries();
  {
    actors::value<int> v(1);
    actors::array<int> a(100);
    actors::mutex m;
    actors::event e;
    process p(add_fifty, v);
    p.start();
    p.join();
    EXPECT_EQ(dev_shm_entries(), before); // memfds have no name there
  }
  EXPECT_EQ(dev_shm_entries(), before);
}


// -- the contract, beyond what the tests above cover ------------------------------

// at() is bounds-checked: out of range is bad_argument naming the index
// and the size, for an empty array and a raw one too.
TEST(array, at_out_of_range_is_a_bad_argument_naming_index_and_size) {
  actors::array<int> a(3, 7);
  EXPECT_EQ(a.at(2).load(), 7);
  try {
    (void) a.at(3);
    ADD_FAILURE() << "at(3) of 3 elements did not throw";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_argument);
    EXPECT_NE(std::string(e.what()).find("index 3 out of range 3"), std::string::npos)
      << e.what();
  }
  EXPECT_EQ(error_of([&] { (void) a.at(std::numeric_limits<std::size_t>::max()); }),
            errc::bad_argument);
  actors::array<double> empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.to_vector().empty());
  EXPECT_EQ(error_of([&] { (void) empty.at(0); }), errc::bad_argument);
  actors::raw_array<long> raw{1, 2};
  EXPECT_EQ(error_of([&] { (void) raw.at(2); }), errc::bad_argument);
  EXPECT_EQ(a.to_vector(), (std::vector<int>{7, 7, 7})); // nothing written
}

// An array's get_lock() makes compound updates of several elements atomic
// across processes: the total is exact and no holder sees a half update.
TEST(array, get_lock_guards_compound_updates_across_processes) {
  actors::array<long> a{0, 0};
  EXPECT_TRUE(a.has_lock());
  actors::value<int> broken(0);
  std::vector<process> ps;
  for (int i = 0; i < 4; ++i) {
    ps.emplace_back(count_and_double, a, broken);
    ps.back().start();
  }
  for (auto& p : ps) {
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(a.to_vector(), (std::vector<long>{200, 400}));
  EXPECT_EQ(broken.load(), 0);
}

// A value sent through a pipe to a process that is already running is the
// same memory there.
TEST(value, sent_to_a_running_process_is_the_same_memory) {
  actors::value<int> v(1);
  auto [from_parent, to_child] = actors::pipe<actors::value<int>>(false);
  auto [done_here, done_there] = actors::pipe<int>(false);
  process p(store_what_arrives, from_parent, done_there);
  p.start();
  to_child.send(v);
  EXPECT_EQ(done_here.try_recv(10s), std::optional<int>(99));
  EXPECT_EQ(v.load(), 99);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// A default value holds T{}; compare_exchange that fails changes nothing
// and tells the current value, as std::atomic's does.
TEST(value, defaults_and_a_failed_compare_exchange) {
  actors::value<double> d;
  EXPECT_EQ(d.load(), 0.0);
  EXPECT_TRUE(d.has_lock());
  actors::value<point> p;
  EXPECT_EQ(p.load().x, 0);
  EXPECT_EQ(p.load().y, 0);
  actors::value<long> v(5);
  long expected = 4;
  EXPECT_FALSE(v.compare_exchange(expected, 9));
  EXPECT_EQ(expected, 5);
  EXPECT_EQ(v.load(), 5);
  EXPECT_TRUE(v.compare_exchange(expected, 9));
  EXPECT_EQ(v.load(), 9);
}
