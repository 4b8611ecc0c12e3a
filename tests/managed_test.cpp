// The proxies of a manager's objects (managed.hpp): managed_dict,
// managed_list, managed_namespace, managed_lock and managed_event, used
// from this process, from threads and from child processes; their Python
// semantics, their errors, and what a dead manager does to every call.
// (The manager itself, its processes and sockets: manager_test.cpp.)

#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <mutex>
#include <optional>
#include <thread>

using namespace std::chrono_literals;
using actors::errc;
using test_util::error_of;
using test_util::seconds_since;

namespace {

void hold_lock_and_hang(actors::managed_lock lock, actors::managed_event held) {
  lock.acquire();
  held.set();
  std::this_thread::sleep_for(1h);
}

// Edits the list with the search-and-reorder calls.
void reorder(actors::managed_list<std::string> l) {
  l.remove("b");
  l.reverse();
  l.append(std::to_string(l.index("c")) + ":" + std::to_string(l.count("a")));
}

// Holds the lock for `ms`, saying so when it has it.
void hold_lock_for(actors::managed_lock lock, actors::managed_event held, int ms) {
  std::lock_guard<actors::managed_lock> hold(lock);
  held.set();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void set_after(actors::managed_event e, int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  e.set();
}

} // namespace

TEST(managed, list_indices_follow_python) {
  actors::manager mgr;
  auto l = mgr.list<int>();
  l.extend({1, 2, 3});
  l.append(4);
  EXPECT_EQ(l.get(-1), 4);
  EXPECT_EQ(l.get(0), 1);
  l.set(1, 20);
  l.insert(0, 0);
  l.insert(100, 5); // clamped, as in Python
  EXPECT_EQ(l.items(), (std::vector<int>{0, 1, 20, 3, 4, 5}));
  EXPECT_EQ(l.pop(), 5);
  EXPECT_EQ(l.pop(0), 0);
  EXPECT_EQ(error_of([&] { l.get(10); }), errc::key_error);
  l.clear();
  EXPECT_EQ(error_of([&] { l.pop(); }), errc::key_error);
}

TEST(managed, list_search_slice_and_reorder_follow_python) {
  actors::manager mgr;
  auto l = mgr.list<int>();
  l.extend({3, 1, 4, 1, 5, 9, 2, 6});
  EXPECT_TRUE(l.contains(4));
  EXPECT_FALSE(l.contains(7));
  EXPECT_EQ(l.count(1), 2u);
  EXPECT_EQ(l.count(7), 0u);
  EXPECT_EQ(l.index(1), 1u);
  EXPECT_EQ(l.index(1, 2), 3u);
  EXPECT_EQ(l.index(1, -5), 3u); // from 8 - 5
  EXPECT_EQ(error_of([&] { l.index(7); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.index(3, 1); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.index(1, 2, 3); }), errc::key_error);
  EXPECT_EQ(l.slice(1, 3), (std::vector<int>{1, 4}));
  EXPECT_EQ(l.slice(-2), (std::vector<int>{2, 6}));
  EXPECT_EQ(l.slice(5, 2), std::vector<int>{});
  EXPECT_EQ(l.slice(-100, 100), l.items()); // clamped, never an error
  l.remove(1); // the first one only
  EXPECT_EQ(l.items(), (std::vector<int>{3, 4, 1, 5, 9, 2, 6}));
  EXPECT_EQ(error_of([&] { l.remove(7); }), errc::key_error);
  l.reverse();
  EXPECT_EQ(l.items(), (std::vector<int>{6, 2, 9, 5, 1, 4, 3}));
  l.erase(1, 3); // del l[1:3]
  EXPECT_EQ(l.items(), (std::vector<int>{6, 5, 1, 4, 3}));
  l.erase(-2, 100);
  EXPECT_EQ(l.items(), (std::vector<int>{6, 5, 1}));
  l.erase(2, 1); // an empty range: nothing
  l.repeat(2); // l *= 2
  EXPECT_EQ(l.items(), (std::vector<int>{6, 5, 1, 6, 5, 1}));
  EXPECT_EQ(error_of([&] { l.repeat(1L << 40); }), errc::bad_argument);
  EXPECT_EQ(l.size(), 6u); // unchanged by the refusal
  l.repeat(0);
  EXPECT_EQ(l.size(), 0u);
  l.repeat(1L << 40); // an empty list stays empty, at once
  EXPECT_EQ(l.size(), 0u);

  auto words = mgr.list<std::string>();
  words.extend({"a", "b", "c", "a"});
  actors::process p(reorder, words);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(words.items(), (std::vector<std::string>{"a", "c", "a", "1:2"}));
}

TEST(managed, dict_update_pop_with_default_and_popitem) {
  actors::manager mgr;
  auto d = mgr.dict<std::string, int>();
  d.update({{"a", 1}, {"b", 2}, {"a", 3}}); // a later duplicate wins, in place
  EXPECT_EQ(d.items(), (std::vector<std::pair<std::string, int>>{{"a", 3}, {"b", 2}}));
  EXPECT_EQ(d.pop("zz", 9), 9);
  EXPECT_EQ(d.try_pop("a"), 3);
  EXPECT_EQ(d.try_pop("a"), std::nullopt);
  EXPECT_EQ(d.pop("b", 9), 2);
  EXPECT_EQ(error_of([&] { d.popitem(); }), errc::key_error);
  d.update({{"x", 1}, {"y", 2}, {"z", 3}});
  EXPECT_EQ(d.popitem(), (std::pair<std::string, int>("z", 3))); // last in, first out
  EXPECT_EQ(d.size(), 2u);
}

TEST(managed, lock_misuse_and_timeouts) {
  actors::manager mgr;
  auto lock = mgr.lock();
  EXPECT_EQ(error_of([&] { lock.release(); }), errc::not_owner);
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  std::thread other([&] {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(lock.acquire(true, 100ms));
    EXPECT_GE(seconds_since(t0), 0.09);
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_EQ(error_of([&] { lock.release(); }), errc::not_owner);
  });
  other.join();
  lock.release();
  EXPECT_FALSE(lock.locked());

  auto rlock = mgr.rlock();
  EXPECT_TRUE(rlock.acquire());
  EXPECT_TRUE(rlock.acquire()); // recursion counts
  rlock.release();
  EXPECT_TRUE(rlock.locked());
  rlock.release();
  EXPECT_FALSE(rlock.locked());
}

TEST(managed, a_dead_holder_releases_the_lock_and_the_next_acquirer_is_told) {
  actors::manager mgr;
  auto lock = mgr.lock();
  auto held = mgr.event();
  actors::process p(hold_lock_and_hang, lock, held);
  p.start();
  ASSERT_TRUE(held.wait(10s));
  EXPECT_FALSE(lock.acquire(false));
  p.kill();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(lock.acquire(true, 5s));
  EXPECT_LT(seconds_since(t0), 1.0);
  EXPECT_TRUE(lock.owner_died());
  lock.release();
  p.join();
}

TEST(managed, proxies_travel_through_queues) {
  actors::manager mgr;
  auto d = mgr.dict<int, int>();
  actors::queue<actors::managed_dict<int, int>> q;
  q.put(d);
  auto copy = q.get(5s);
  copy.set(1, 2);
  EXPECT_EQ(d.get(1), 2);
}

TEST(managed, every_call_fails_fast_once_the_manager_dies) {
  actors::manager mgr;
  auto d = mgr.dict<int, int>();
  auto lock = mgr.lock();
  auto ev = mgr.event();
  d.set(1, 1);
  lock.acquire();
  std::thread waiter([&] { // blocked in the manager when it dies
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(error_of([&] { ev.wait(); }), errc::eof);
    EXPECT_LT(seconds_since(t0), 5.0);
  });
  std::this_thread::sleep_for(100ms);
  ::kill(mgr.pid(), SIGKILL);
  for (int i = 0; i < 5; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    try {
      d.get(1);
      ADD_FAILURE() << "a call on a dead manager succeeded";
    } catch (const actors::eof_error& e) {
      EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(mgr.pid())), std::string::npos);
    }
    EXPECT_LT(seconds_since(t0), 0.5);
  }
  EXPECT_EQ(error_of([&] { lock.release(); }), errc::eof);
  waiter.join();
}

// -- the contract, beyond what the tests above cover ------------------------------

// Keys keep insertion order, as in Python: setting a key again keeps its
// place; a key removed and set again goes last.
TEST(managed, dict_keeps_insertion_order) {
  actors::manager mgr;
  auto d = mgr.dict<std::string, int>();
  d.set("b", 1);
  d.set("a", 2);
  d.set("c", 3);
  d.set("b", 4); // in place
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(d.values(), (std::vector<int>{4, 2, 3}));
  EXPECT_TRUE(d.erase("a"));
  d.set("a", 5);
  EXPECT_EQ(d.items(), (std::vector<std::pair<std::string, int>>{{"b", 4}, {"c", 3}, {"a", 5}}));
  EXPECT_EQ(d.try_get("zz"), std::nullopt);
  EXPECT_EQ(error_of([&] { d.pop("zz"); }), errc::key_error);
  EXPECT_EQ(d.size(), 3u); // the failed pop changed nothing
}

// Out of range is key_error (Python's IndexError) for get, set and pop, at
// either end, and changes nothing.
TEST(managed, list_index_out_of_range_is_a_key_error_that_changes_nothing) {
  actors::manager mgr;
  auto l = mgr.list<int>();
  l.extend({1, 2, 3});
  EXPECT_EQ(l.get(-3), 1);
  EXPECT_EQ(error_of([&] { l.get(-4); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.get(3); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.set(3, 9); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.set(-4, 9); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.pop(3); }), errc::key_error);
  EXPECT_EQ(error_of([&] { l.pop(-4); }), errc::key_error);
  EXPECT_EQ(l.items(), (std::vector<int>{1, 2, 3}));
  l.set(-1, 30);
  EXPECT_EQ(l.pop(-3), 1);
  EXPECT_EQ(l.items(), (std::vector<int>{2, 30}));
  l.repeat(-1); // n <= 0 empties it
  EXPECT_EQ(l.size(), 0u);
}

// get<T>() of a value that is not a T is bad_payload; an unset name is
// key_error; contains() and erase() say whether the name was there.
TEST(managed, namespace_get_of_the_wrong_type_is_a_bad_payload) {
  actors::manager mgr;
  auto ns = mgr.namespace_();
  ns.set("word", std::string("hello"));
  ns.set("count", 3);
  EXPECT_EQ(error_of([&] { ns.get<int>("word"); }), errc::bad_payload);
  EXPECT_EQ(error_of([&] { ns.get<double>("count"); }), errc::bad_payload);
  EXPECT_EQ(ns.get<std::string>("word"), "hello"); // the value is intact
  EXPECT_TRUE(ns.contains("count"));
  EXPECT_TRUE(ns.erase("count"));
  EXPECT_FALSE(ns.erase("count"));
  EXPECT_FALSE(ns.contains("count"));
  EXPECT_EQ(error_of([&] { ns.get<int>("count"); }), errc::key_error);
}

// The lock is held by a thread of a process: another process's holding
// makes try_lock() fail and try_lock_for() wait; a normal release is not
// an owner's death.
TEST(managed, lock_held_by_another_process_works_with_std_lock_types) {
  actors::manager mgr;
  auto lock = mgr.lock();
  auto held = mgr.event();
  actors::process p(hold_lock_for, lock, held, 400);
  p.start();
  ASSERT_TRUE(held.wait(10s));
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock_for(50ms));
  {
    std::unique_lock<actors::managed_lock> hold(lock, std::defer_lock);
    ASSERT_TRUE(hold.try_lock_for(5s));
    EXPECT_FALSE(lock.owner_died());
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// wait() returns false after its timeout, and true as soon as another
// process sets the event; is_set() and clear() see the same event.
TEST(managed, event_wait_times_out_or_wakes_when_another_process_sets_it) {
  actors::manager mgr;
  auto e = mgr.event();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(e.wait(100ms));
  EXPECT_GE(seconds_since(t0), 0.09);
  actors::process p(set_after, e, 200);
  p.start();
  EXPECT_TRUE(e.wait(10s));
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait(0ms)); // set: returns at once
  e.clear();
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(10ms));
  p.join();
}
