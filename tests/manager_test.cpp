#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using actors::errc;
using test_util::error_of;
using test_util::seconds_since;

namespace {

void add_words(actors::managed_dict<std::string, int> d, actors::managed_list<std::string> l,
               std::string who) {
  for (int i = 0; i < 50; ++i) {
    l.append(who);
    d.set(who + std::to_string(i), i);
  }
}

void count_under_lock(actors::managed_namespace ns, actors::managed_lock lock) {
  for (int i = 0; i < 50; ++i) {
    std::lock_guard<actors::managed_lock> hold(lock);
    ns.set("total", ns.get<int>("total") + 1);
  }
}

void hold_lock_and_hang(actors::managed_lock lock, actors::managed_event held) {
  lock.acquire();
  held.set();
  std::this_thread::sleep_for(1h);
}

void wait_then_put(actors::managed_event go, actors::queue<int> q) {
  if (go.wait(10s))
    q.put(42);
}

// Empties the dict with popitem(), logging each key it got.
void drain_with_popitem(actors::managed_dict<std::string, int> d,
                        actors::managed_list<std::string> got) {
  try {
    for (;;)
      got.append(d.popitem().first);
  } catch (const actors::error& e) {
    if (e.value() != errc::key_error)
      throw;
  }
}

// Edits the list with the search-and-reorder calls.
void reorder(actors::managed_list<std::string> l) {
  l.remove("b");
  l.reverse();
  l.append(std::to_string(l.index("c")) + ":" + std::to_string(l.count("a")));
}

} // namespace

TEST(manager, dict_and_list_from_many_processes) {
  actors::manager mgr;
  auto d = mgr.dict<std::string, int>();
  auto l = mgr.list<std::string>();
  std::vector<actors::process> ps;
  for (auto who : {"a", "b", "c", "d"})
    ps.emplace_back(add_words, d, l, who);
  for (auto& p : ps)
    p.start();
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(d.size(), 200u);
  EXPECT_EQ(l.size(), 200u);
  EXPECT_EQ(d.get("c49"), 49);
  EXPECT_TRUE(d.contains("a0"));
  EXPECT_EQ(error_of([&] { d.get("zzz"); }), errc::key_error);
  EXPECT_EQ(d.get("zzz", 7), 7);
  EXPECT_EQ(d.pop("a0"), 0);
  EXPECT_FALSE(d.erase("a0"));
  EXPECT_EQ(d.setdefault("new", 5), 5);
  EXPECT_EQ(d.setdefault("new", 6), 5);
  EXPECT_EQ(d.keys().back(), "new"); // insertion order
  d.clear();
  EXPECT_EQ(d.size(), 0u);
}

TEST(manager, list_indices_follow_python) {
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

TEST(manager, list_search_slice_and_reorder_follow_python) {
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

TEST(manager, dict_update_pop_with_default_and_popitem) {
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

// Four processes drain one dict with popitem(): each key comes out once.
TEST(manager, popitem_from_many_processes_takes_each_key_once) {
  actors::manager mgr;
  auto d = mgr.dict<std::string, int>();
  auto got = mgr.list<std::string>();
  std::vector<std::pair<std::string, int>> all;
  for (int i = 0; i < 200; ++i)
    all.emplace_back("k" + std::to_string(i), i);
  d.update(all);
  std::vector<actors::process> ps;
  for (int i = 0; i < 4; ++i)
    ps.emplace_back(drain_with_popitem, d, got);
  for (auto& p : ps)
    p.start();
  for (auto& p : ps) {
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(d.size(), 0u);
  auto keys = got.items();
  EXPECT_EQ(keys.size(), all.size());
  std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), all.size());
}

TEST(manager, namespace_and_lock_give_exact_totals) {
  actors::manager mgr;
  auto ns = mgr.namespace_();
  auto lock = mgr.lock();
  ns.set("total", 0);
  ns.set("label", std::string("counter"));
  std::vector<actors::process> ps;
  for (int i = 0; i < 4; ++i)
    ps.emplace_back(count_under_lock, ns, lock);
  for (auto& p : ps)
    p.start();
  for (auto& p : ps)
    p.join();
  EXPECT_EQ(ns.get<int>("total"), 200);
  EXPECT_EQ(ns.get<std::string>("label"), "counter");
  EXPECT_EQ(error_of([&] { ns.get<int>("missing"); }), errc::key_error);
}

TEST(manager, lock_misuse_and_timeouts) {
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

TEST(manager, a_dead_holder_releases_the_lock_and_the_next_acquirer_is_told) {
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

TEST(manager, event_and_queue) {
  actors::manager mgr;
  auto go = mgr.event();
  auto q = mgr.queue<int>();
  EXPECT_FALSE(go.wait(50ms));
  actors::process p(wait_then_put, go, q);
  p.start();
  go.set();
  EXPECT_TRUE(go.is_set());
  EXPECT_EQ(q.get(10s), 42);
  go.clear();
  EXPECT_FALSE(go.is_set());
  p.join();
}

TEST(manager, proxies_travel_through_queues) {
  actors::manager mgr;
  auto d = mgr.dict<int, int>();
  actors::queue<actors::managed_dict<int, int>> q;
  q.put(d);
  auto copy = q.get(5s);
  copy.set(1, 2);
  EXPECT_EQ(d.get(1), 2);
}

TEST(manager, a_destroyed_manager_leaves_no_descriptor_behind) {
  { actors::manager warm_up; } // the first one opens the node's control endpoint
  int before = test_util::open_fds();
  for (int i = 0; i < 10; ++i) {
    actors::manager mgr;
    mgr.dict<int, int>().set(1, i); // a call leaves a connection to reuse
  }
  EXPECT_EQ(test_util::open_fds(), before);
}

TEST(manager, every_call_fails_fast_once_the_manager_dies) {
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

// The manager's socket is named for its role, so actors-top, which lists
// the node.sock control endpoints of programs, does not take the manager's
// process for one; and the socket goes with the manager.
TEST(manager, listens_on_manager_sock_not_a_node_control_endpoint) {
  std::string dir;
  {
    actors::manager m;
    auto d = m.dict<std::string, int>();
    d.set("a", 1);
    auto prefix = "actors-" + std::to_string(m.pid()) + "-";
    for (auto& e : std::filesystem::directory_iterator("/tmp"))
      if (e.path().filename().string().rfind(prefix, 0) == 0)
        dir = e.path().string();
    ASSERT_FALSE(dir.empty()) << "no socket directory of the manager's process " << m.pid();
    EXPECT_TRUE(std::filesystem::exists(dir + "/manager.sock"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/node.sock"));
  }
  auto t0 = std::chrono::steady_clock::now();
  while (std::filesystem::exists(dir) && seconds_since(t0) < 5)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir << " is left behind";
}
