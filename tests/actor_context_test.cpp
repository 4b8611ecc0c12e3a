// What an actor's context offers (actor_context.hpp): self(), then,
// promises, timers, monitors inside actors, links, the registry and the
// heartbeat, with real processes and real kills.

#include "actor_util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <set>

namespace {
int claim(std::string name) {
  auto c = actors::get_or_spawn<counter>(name, 0);
  c.tell(&counter::add, 1);
  return c.pid();
}
void claim_and_report(std::string name, actors::queue<int> out) {
  out.put(claim(name));
}
} // namespace

TEST(actor, links_stop_the_partner_unless_it_traps_exits) {
  for (bool remote : {false, true}) {
    auto a = remote ? actors::spawn<counter>(actors::in_new_process) : actors::spawn<counter>();
    auto b = actors::spawn<counter>();
    auto box = std::make_shared<down_box>();
    actors::monitor(b, [box](const actors::down& d) { box->set(d); });
    actors::link(a, b);
    if (remote)
      ::kill(a.pid(), SIGKILL);
    else
      a.tell(&counter::fail, std::string("crash"));
    ASSERT_TRUE(box->wait(5000ms));
    EXPECT_EQ(box->d->reason.what, actors::down_reason::kind::linked);
    EXPECT_NE(box->d->reason.message.find(a.name()), std::string::npos);
  }
  // trapping: the watcher survives and hears of it
  auto a = actors::spawn<counter>(actors::in_new_process);
  auto w = actors::spawn<watcher>();
  w.ask(&watcher::trap).get(5s);
  actors::link(w, a);
  ::kill(a.pid(), SIGKILL);
  ASSERT_TRUE(eventually([&] { return !w.ask(&watcher::seen).get(5s).empty(); }));
  auto seen = w.ask(&watcher::seen).get(5s);
  EXPECT_NE(seen[0].find("trapped: its process was killed by signal 9"), std::string::npos) << seen[0];
}

TEST(actor, a_normal_stop_does_not_stop_linked_actors) {
  auto a = actors::spawn<counter>();
  auto b = actors::spawn<counter>(5);
  actors::link(a, b);
  a.ask(&counter::stop).get(5s);
  std::this_thread::sleep_for(50ms); // nothing should arrive; give it the chance
  EXPECT_EQ(b.ask(&counter::get).get(5s), 5);
}

TEST(actor, inside_an_actor_self_then_after_every_and_promises) {
  auto r = actors::spawn<relay>(actors::in_new_process);
  auto c = actors::spawn<counter>(actors::in_new_process, 1);
  EXPECT_EQ(r.ask(&relay::forward, c, 4).get(5s), 50); // (1 + 4) * 10
  EXPECT_EQ(r.ask(&relay::me).get(5s), r.name());
  EXPECT_EQ(r.ask(&relay::later, 42).get(5s), 42);
  r.ask(&relay::start_ticking).get(5s);
  EXPECT_TRUE(eventually([&] { return r.ask(&relay::tick_count).get(5s) >= 5; }));
  EXPECT_THROW(actors::self(), actors::error);
}

TEST(actor, a_monitor_inside_an_actor_runs_on_the_actor) {
  auto w = actors::spawn<watcher>(actors::in_new_process);
  auto c = actors::spawn<counter>(actors::in_new_process);
  w.ask(&watcher::watch, c).get(5s);
  ::kill(c.pid(), SIGKILL);
  ASSERT_TRUE(eventually([&] { return !w.ask(&watcher::seen).get(5s).empty(); }));
  // a sibling's death: the watcher asks the dead process's parent why
  auto seen = w.ask(&watcher::seen).get(5s)[0];
  EXPECT_EQ(seen.rfind("its process was killed by signal 9", 0), 0u) << seen;
}

TEST(actor, registry_register_lookup_and_the_name_goes_with_the_actor) {
  auto c = actors::spawn<counter>(actors::in_new_process, 3);
  actors::register_actor("store", c);
  auto found = actors::lookup<counter>("store");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, c);
  EXPECT_EQ(found->ask(&counter::get).get(5s), 3);
  EXPECT_EQ(test_util::error_of([] { actors::lookup<other>("store"); }), actors::errc::bad_argument);
  EXPECT_FALSE(actors::lookup<counter>("nobody"));
  EXPECT_EQ(test_util::error_of([&] { actors::register_actor("store", actors::spawn<counter>()); }),
            actors::errc::bad_argument);
  ::kill(c.pid(), SIGKILL);
  EXPECT_TRUE(eventually([] { return !actors::lookup<counter>("store"); }));
}

TEST(actor, get_or_spawn_from_8_processes_makes_exactly_one_actor) {
  actors::queue<int> pids;
  std::vector<actors::process> ps;
  for (int i = 0; i < 8; ++i)
    ps.emplace_back(claim_and_report, std::string("singleton"), pids);
  for (auto& p : ps)
    p.start();
  std::set<int> seen;
  for (int i = 0; i < 8; ++i)
    seen.insert(pids.get(10s));
  for (auto& p : ps) {
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(seen.size(), 1u) << "every caller got the same actor";
  auto c = actors::lookup<counter>("singleton");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->ask(&counter::get).get(5s), 8);
}

TEST(actor, a_stopped_process_is_down_within_the_heartbeat) {
  auto c = actors::spawn<counter>(actors::in_new_process, 1);
  EXPECT_EQ(c.ask(&counter::get).get(5s), 1);
  auto box = std::make_shared<down_box>();
  actors::monitor(c, [box](const actors::down& d) { box->set(d); });
  auto t0 = std::chrono::steady_clock::now();
  ::kill(c.pid(), SIGSTOP);
  // kill() returns before the process has stopped: ask only once it has
  auto stopped = [&] {
    auto stat = test_util::read_file("/proc/" + std::to_string(c.pid()) + "/stat");
    auto close = stat.rfind(')');
    return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'T';
  };
  ASSERT_TRUE(eventually(stopped));
  auto pending = c.ask(&counter::get); // never answered: the process is frozen
  ASSERT_TRUE(box->wait(5000ms));
  double seen = std::chrono::duration<double>(box->at - t0).count();
  EXPECT_LT(seen, 2.5) << "default: 250 ms checks, 1.5 s limit";
  EXPECT_GE(seen, 1.4);
  EXPECT_EQ(box->d->reason.what, actors::down_reason::kind::unreachable);
  EXPECT_NE(box->d->reason.message.find("stopped"), std::string::npos) << box->d->reason.message;
  EXPECT_THROW(pending.get(5s), actors::actor_died);
  ::kill(c.pid(), SIGKILL);
  EXPECT_EQ(test_util::error_of([] { actors::set_heartbeat(0ms, 1s); }), actors::errc::bad_argument);
}

namespace {
// Tells itself and sets a timer from on_start(), before anyone else can
// send it anything.
struct self_starter {
  int n = 0;
  void on_start() {
    actors::self().handle(this).tell(&self_starter::bump);
    actors::self().after(1ms, [this] { ++n; });
  }
  void bump() { ++n; }
  int get() const { return n; }
};
} // namespace

TEST(actor, on_start_may_tell_itself_and_set_timers) {
  std::vector<actors::actor<self_starter>> made;
  for (int i = 0; i < 300; ++i)
    made.push_back(actors::spawn<self_starter>());
  made.push_back(actors::spawn<self_starter>(actors::in_new_process));
  for (auto& a : made)
    EXPECT_TRUE(eventually([&] { return a.ask(&self_starter::get).get(5s) == 2; }));
}
