// Actor logic, stepped deterministically: this executable runs its node's
// actors on CAF's test coordinator (ACTORS_CAF_SCHEDULER=testing, set by
// ctest), so nothing runs until a test calls run(), run_once() or
// trigger_timeout(), and no test sleeps.

#include <actors/all.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include <gtest/gtest.h>

namespace {

caf::scheduler::test_coordinator& sched() {
  return dynamic_cast<caf::scheduler::test_coordinator&>(actors::system().scheduler());
}

struct account {
  long balance = 0;
  std::vector<std::string> log;
  void deposit(long v) {
    balance += v;
    log.push_back("deposit " + std::to_string(v));
  }
  long withdraw(long v) {
    if (v > balance)
      throw std::runtime_error("insufficient funds");
    balance -= v;
    log.push_back("withdraw " + std::to_string(v));
    return balance;
  }
  long get() const { return balance; }
  std::vector<std::string> history() const { return log; }
  void boom() { throw std::logic_error("boom"); }
};

struct clock_user {
  int fired = 0, ticks = 0;
  actors::timer t;
  void arm() {
    actors::self().after(std::chrono::seconds(5), [this] { ++fired; });
  }
  void tick_every_second() {
    t = actors::self().every(std::chrono::seconds(1), [this] { ++ticks; });
  }
  void stop_ticking() { t.cancel(); }
  actors::promise<int> answer_in(int seconds) {
    actors::promise<int> p;
    actors::self().after(std::chrono::seconds(seconds), [p]() mutable { p.set_value(42); });
    return p;
  }
  std::pair<int, int> counts() const { return {fired, ticks}; }
};

} // namespace

TEST(actor_logic, nothing_runs_until_the_scheduler_is_stepped) {
  ASSERT_NO_THROW(sched());
  auto a = actors::spawn<account>();
  sched().run();
  a.tell(&account::deposit, 10L);
  a.tell(&account::deposit, 5L);
  auto f = a.ask(&account::get);
  EXPECT_FALSE(f.ready());
  sched().run();
  ASSERT_TRUE(f.ready());
  EXPECT_EQ(f.get(), 15);
}

TEST(actor_logic, a_failed_ask_leaves_state_and_order_intact) {
  auto a = actors::spawn<account>();
  a.tell(&account::deposit, 10L);
  auto bad = a.ask(&account::withdraw, 50L);
  auto good = a.ask(&account::withdraw, 4L);
  auto history = a.ask(&account::history);
  sched().run();
  EXPECT_THROW(bad.get(), actors::remote_error);
  EXPECT_EQ(good.get(), 6);
  EXPECT_EQ(history.get(), (std::vector<std::string>{"deposit 10", "withdraw 4"}));
}

TEST(actor_logic, messages_run_in_the_order_they_were_sent) {
  auto a = actors::spawn<account>();
  sched().run(); // its start
  for (int i = 1; i <= 5; ++i) {
    a.tell(&account::deposit, long(10 * i));
    a.tell(&account::withdraw, long(i));
  }
  auto f = a.ask(&account::history);
  // The test coordinator runs one message per step: ten steps run the
  // tells, the eleventh the ask.
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(sched().try_run_once());
    EXPECT_FALSE(f.ready()) << "after step " << i + 1;
  }
  EXPECT_TRUE(sched().try_run_once());
  ASSERT_TRUE(f.ready());
  std::vector<std::string> expected;
  for (int i = 1; i <= 5; ++i) {
    expected.push_back("deposit " + std::to_string(10 * i));
    expected.push_back("withdraw " + std::to_string(i));
  }
  EXPECT_EQ(f.get(), expected);
  EXPECT_FALSE(sched().try_run_once()); // nothing left to run
}

TEST(actor_logic, timers_fire_when_the_clock_is_advanced) {
  auto c = actors::spawn<clock_user>();
  c.tell(&clock_user::arm);
  c.tell(&clock_user::tick_every_second);
  sched().run();
  auto counts = [&] {
    auto f = c.ask(&clock_user::counts);
    sched().run();
    return f.get();
  };
  EXPECT_EQ(counts(), std::make_pair(0, 0));
  for (int i = 0; i < 3; ++i) {
    sched().trigger_timeout(); // the next pending timer
    sched().run();
  }
  EXPECT_EQ(counts(), std::make_pair(0, 3)); // 1 s, 2 s, 3 s; the 5 s one not yet
  sched().trigger_timeouts(); // everything due
  sched().run();
  auto [fired, ticks] = counts();
  EXPECT_GE(ticks, 3);
  c.tell(&clock_user::stop_ticking);
  sched().run();
  sched().trigger_timeouts();
  sched().run();
  auto after = counts().second;
  sched().trigger_timeouts();
  sched().run();
  EXPECT_EQ(counts().second, after) << "a cancelled timer never fires again";
  (void) fired;
}

TEST(actor_logic, a_promise_answers_when_its_timer_fires) {
  auto c = actors::spawn<clock_user>();
  auto f = c.ask(&clock_user::answer_in, 7);
  sched().run();
  EXPECT_FALSE(f.ready());
  sched().trigger_timeouts();
  sched().run();
  ASSERT_TRUE(f.ready());
  EXPECT_EQ(f.get(), 42);
}

TEST(actor_logic, a_throwing_tell_stops_the_actor_and_its_link) {
  auto a = actors::spawn<account>();
  auto b = actors::spawn<account>();
  std::vector<actors::down> downs;
  actors::monitor(a, [&](const actors::down& d) { downs.push_back(d); });
  actors::monitor(b, [&](const actors::down& d) { downs.push_back(d); });
  actors::link(a, b);
  sched().run();
  a.tell(&account::boom);
  sched().run();
  ASSERT_EQ(downs.size(), 2u);
  EXPECT_EQ(downs[0].actor, a.name());
  EXPECT_EQ(downs[0].reason.what, actors::down_reason::kind::exception);
  EXPECT_NE(downs[0].reason.message.find("boom"), std::string::npos);
  EXPECT_EQ(downs[1].actor, b.name());
  EXPECT_EQ(downs[1].reason.what, actors::down_reason::kind::linked);
  auto f = b.ask(&account::get);
  sched().run();
  EXPECT_THROW(f.get(), actors::actor_died);
}
