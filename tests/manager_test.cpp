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

TEST(manager, a_destroyed_manager_leaves_no_descriptor_behind) {
  { actors::manager warm_up; } // the first one opens the node's control endpoint
  int before = test_util::open_fds();
  for (int i = 0; i < 10; ++i) {
    actors::manager mgr;
    mgr.dict<int, int>().set(1, i); // a call leaves a connection to reuse
  }
  EXPECT_EQ(test_util::open_fds(), before);
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
