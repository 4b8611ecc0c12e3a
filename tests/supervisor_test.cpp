// Supervisors: strategies, restart types, intensity and escalation up a
// tree, ordered shutdown, and handles that outlive restarts, with real
// processes and real kills.

#include "actor_util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>

namespace {

// Appends its id to a file when it stops, so a test can see the order.
struct journaled {
  std::string id, path;
  int n = 0;
  journaled(std::string i, std::string p) : id(std::move(i)), path(std::move(p)) {}
  void on_stop() {
    std::ofstream(path, std::ios::app) << id << "\n";
  }
  int pid() const { return ::getpid(); }
  int bump() { return ++n; }
  void fail() { throw std::runtime_error("boom"); }
  void stop() { actors::self().stop(); }
  void hang() { ::sleep(60); }
  void ignore_sigterm() { ::signal(SIGTERM, SIG_IGN); }
  void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
};

struct explodes {
  explicit explodes(int) { throw std::runtime_error("no"); }
  int get() const { return 0; }
};

std::vector<std::string> journal(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

std::string temp_path(const char* what) {
  return "/tmp/actors-sup-" + std::string(what) + "-" + std::to_string(::getpid());
}

// The child's entry once `pred` holds for it, waiting up to 10 s.
template <class P>
actors::child_info wait_child(const actors::supervisor& s, const std::string& id, P pred) {
  auto until = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    for (auto& c : s.children())
      if (c.id == id && pred(c))
        return c;
    if (std::chrono::steady_clock::now() > until)
      throw std::runtime_error("child " + id + " did not reach the expected state");
    std::this_thread::sleep_for(2ms);
  }
}

int pid_of(const actors::supervisor& s, const std::string& id) {
  return wait_child(s, id, [](const actors::child_info& c) { return c.running; }).pid;
}

// Waits until `id` runs again in a process other than `old_pid`.
int wait_restarted(const actors::supervisor& s, const std::string& id, int old_pid) {
  return wait_child(s, id, [&](const actors::child_info& c) {
           return c.running && c.pid != old_pid && c.pid != 0;
         }).pid;
}

bool process_gone(int pid) {
  for (int i = 0; i < 500; ++i) {
    if (::kill(pid, 0) != 0)
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

} // namespace

TEST(supervisor, a_killed_process_child_is_restarted_and_its_old_handle_reaches_the_new_one) {
  actors::supervisor sup(actors::supervisor_options().intensity(3, 5s));
  auto c = sup.spawn<counter>(actors::in_new_process, actors::child_spec("c"), 10);
  EXPECT_EQ(c.ask(&counter::add, 5).get(5s), 15);
  int first = c.ask(&counter::pid).get(5s);
  EXPECT_EQ(first, pid_of(sup, "c"));

  auto copy = c; // a copy made before the restart, too
  auto slow = c.ask(&counter::record, 1); // answered before the kill
  slow.get(5s);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  int second = wait_restarted(sup, "c", first);

  // The same handles reach the new instance, which starts from its
  // constructor's arguments.
  EXPECT_EQ(c.ask(&counter::pid).get(5s), second);
  EXPECT_EQ(copy.ask(&counter::get).get(5s), 10);
  EXPECT_EQ(c, copy);
  auto info = sup.children().at(0);
  EXPECT_EQ(info.restarts, 1u);
  ASSERT_TRUE(info.last_exit.has_value());
  EXPECT_EQ(info.last_exit->what, actors::down_reason::kind::signal);
  EXPECT_EQ(info.last_exit->signal, SIGKILL);
  EXPECT_EQ(sup.restarts(), 1u);
  sup.stop();
  EXPECT_TRUE(process_gone(second));
}

TEST(supervisor, asks_in_flight_when_a_child_dies_fail_with_actor_died) {
  actors::supervisor sup(actors::supervisor_options().intensity(3, 5s));
  auto j = sup.spawn<journaled>(actors::in_new_process, actors::child_spec("j"), "j",
                                temp_path("inflight"));
  int pid = j.ask(&journaled::pid).get(5s);
  auto busy = j.ask(&journaled::sleep_ms, 5000);
  std::this_thread::sleep_for(50ms);
  ::kill(pid, SIGKILL);
  try {
    busy.get(5s);
    FAIL() << "expected actor_died";
  } catch (const actors::actor_died& e) {
    EXPECT_EQ(e.reason().what, actors::down_reason::kind::signal) << e.what();
  }
  wait_restarted(sup, "j", pid);
  EXPECT_EQ(j.ask(&journaled::bump).get(5s), 1);
  sup.stop();
}

TEST(supervisor, a_local_child_that_fails_is_restarted_and_answers_again) {
  actors::supervisor sup(actors::supervisor_options().intensity(5, 5s));
  auto c = sup.spawn<counter>(actors::child_spec("local"), 3);
  EXPECT_EQ(c.pid(), ::getpid());
  EXPECT_EQ(c.ask(&counter::add, 4).get(5s), 7);
  c.tell(&counter::fail, std::string("crash")); // a tell that throws stops the actor
  wait_child(sup, "local", [](const actors::child_info& i) { return i.restarts == 1 && i.running; });
  EXPECT_EQ(c.ask(&counter::get).get(5s), 3);
  auto info = sup.children().at(0);
  ASSERT_TRUE(info.last_exit.has_value());
  EXPECT_EQ(info.last_exit->what, actors::down_reason::kind::exception);
  EXPECT_NE(info.last_exit->message.find("crash"), std::string::npos);
  sup.stop();
  EXPECT_FALSE(sup.running());
}

TEST(supervisor, one_for_all_restarts_every_child_and_rest_for_one_the_later_ones) {
  for (auto how : {actors::strategy::one_for_all, actors::strategy::rest_for_one}) {
    SCOPED_TRACE(how == actors::strategy::one_for_all ? "one_for_all" : "rest_for_one");
    actors::supervisor sup(actors::supervisor_options().strategy(how).intensity(3, 5s));
    auto a = sup.spawn<counter>(actors::in_new_process, actors::child_spec("a"), 1);
    auto b = sup.spawn<counter>(actors::in_new_process, actors::child_spec("b"), 2);
    auto c = sup.spawn<counter>(actors::child_spec("c"), 3); // a local one mixed in
    a.tell(&counter::add, 10);
    c.tell(&counter::add, 10);
    EXPECT_EQ(a.ask(&counter::get).get(5s), 11);
    EXPECT_EQ(c.ask(&counter::get).get(5s), 13);
    int pa = pid_of(sup, "a"), pb = pid_of(sup, "b");
    ::kill(pb, SIGKILL);
    wait_restarted(sup, "b", pb);
    wait_child(sup, "c", [](const actors::child_info& i) { return i.restarts == 1 && i.running; });
    EXPECT_EQ(c.ask(&counter::get).get(5s), 3); // c came after b: restarted by both
    if (how == actors::strategy::one_for_all) {
      EXPECT_NE(a.ask(&counter::pid).get(5s), pa);
      EXPECT_EQ(a.ask(&counter::get).get(5s), 1);
    } else {
      EXPECT_EQ(a.ask(&counter::pid).get(5s), pa);
      EXPECT_EQ(a.ask(&counter::get).get(5s), 11);
    }
    EXPECT_EQ(b.ask(&counter::get).get(5s), 2);
    sup.stop();
  }
}

TEST(supervisor, restart_types_decide_who_comes_back) {
  actors::supervisor sup(actors::supervisor_options().intensity(5, 5s));
  auto perm = sup.spawn<counter>(actors::child_spec("perm"), 1);
  auto trans = sup.spawn<counter>(actors::child_spec("trans").restart(actors::restart::transient), 2);
  auto temp = sup.spawn<counter>(actors::child_spec("temp").restart(actors::restart::temporary), 3);
  auto trans2 =
    sup.spawn<counter>(actors::child_spec("trans2").restart(actors::restart::transient), 4);

  perm.tell(&counter::stop); // permanent: even a normal stop is restarted
  wait_child(sup, "perm", [](const actors::child_info& i) { return i.restarts == 1 && i.running; });
  trans.tell(&counter::stop); // transient, normal: stays stopped
  wait_child(sup, "trans", [](const actors::child_info& i) { return !i.running; });
  trans2.tell(&counter::fail, std::string("x")); // transient, abnormal: restarted
  wait_child(sup, "trans2", [](const actors::child_info& i) { return i.restarts == 1 && i.running; });
  temp.tell(&counter::fail, std::string("y")); // temporary: gone from the supervisor
  auto until = std::chrono::steady_clock::now() + 5s;
  while (sup.children().size() != 3 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(2ms);
  std::vector<std::string> ids;
  for (auto& c : sup.children())
    ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"perm", "trans", "trans2"}));
  EXPECT_THROW(trans.ask(&counter::get).get(5s), actors::actor_died);
  EXPECT_EQ(perm.ask(&counter::get).get(5s), 1);
  EXPECT_EQ(sup.restarts(), 2u);
  sup.stop();
}

TEST(supervisor, exceeding_the_intensity_stops_the_children_then_the_supervisor) {
  actors::supervisor sup(actors::supervisor_options().intensity(1, 10s).name("fragile"));
  auto a = sup.spawn<counter>(actors::in_new_process, actors::child_spec("a"), 1);
  auto b = sup.spawn<counter>(actors::in_new_process, actors::child_spec("b"), 2);
  int pa = pid_of(sup, "a");
  ::kill(pa, SIGKILL);
  int pa2 = wait_restarted(sup, "a", pa);
  int pb = pid_of(sup, "b");
  ::kill(pa2, SIGKILL); // the second restart within 10 s: one too many
  auto why = sup.join(10s);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(why->what, actors::down_reason::kind::exception);
  EXPECT_NE(why->message.find("fragile reached its restart limit"), std::string::npos) << why->message;
  EXPECT_NE(why->message.find("killed by signal 9"), std::string::npos) << why->message;
  EXPECT_FALSE(sup.running());
  EXPECT_TRUE(process_gone(pb)); // the sibling was stopped
  EXPECT_THROW(b.ask(&counter::get).get(5s), actors::actor_died);
  EXPECT_THROW(sup.spawn<counter>(actors::child_spec("late"), 1), actors::actor_died);
}

TEST(supervisor, a_nested_supervisor_that_gives_up_is_restarted_by_its_parent_with_its_children) {
  actors::supervisor top(actors::supervisor_options().intensity(3, 10s).name("top"));
  auto sub = top.supervise(actors::child_spec("sub"), actors::supervisor_options().intensity(0, 10s));
  auto w = sub.spawn<counter>(actors::in_new_process, actors::child_spec("w"), 7);
  auto l = sub.spawn<counter>(actors::child_spec("l"), 8);
  w.tell(&counter::add, 1);
  EXPECT_EQ(w.ask(&counter::get).get(5s), 8);
  int pw = pid_of(sub, "w");
  ::kill(pw, SIGKILL); // sub allows no restart: it gives up, top restarts it
  wait_child(top, "sub", [](const actors::child_info& i) { return i.restarts == 1 && i.running; });
  int pw2 = wait_restarted(sub, "w", pw);
  EXPECT_NE(pw2, pw);
  EXPECT_EQ(w.ask(&counter::get).get(5s), 7);
  EXPECT_EQ(l.ask(&counter::get).get(5s), 8);
  auto info = top.children().at(0);
  EXPECT_EQ(info.type, "supervisor");
  ASSERT_TRUE(info.last_exit.has_value());
  EXPECT_NE(info.last_exit->message.find("sub reached its restart limit"), std::string::npos)
    << info.last_exit->message;
  top.stop();
  EXPECT_TRUE(process_gone(pw2));
  EXPECT_FALSE(sub.running());
}

TEST(supervisor, shutdown_is_ordered_and_kills_a_child_that_overruns_its_grace) {
  auto path = temp_path("order");
  ::unlink(path.c_str());
  actors::supervisor sup;
  auto a = sup.spawn<journaled>(actors::child_spec("a"), "a", path);
  auto b = sup.spawn<journaled>(actors::in_new_process, actors::child_spec("b"), "b", path);
  auto stubborn = sup.spawn<journaled>(actors::in_new_process,
                                       actors::child_spec("s").shutdown(300ms), "s", path);
  auto c = sup.spawn<journaled>(actors::in_new_process, actors::child_spec("c"), "c", path);
  stubborn.ask(&journaled::ignore_sigterm).get(5s);
  int ps = pid_of(sup, "s");
  stubborn.tell(&journaled::hang); // busy: it never reads the stop request
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  sup.stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(journal(path), (std::vector<std::string>{"c", "b", "a"})); // s never ran on_stop
  EXPECT_TRUE(process_gone(ps));
  auto s_info = sup.children().at(2);
  ASSERT_TRUE(s_info.last_exit.has_value());
  EXPECT_EQ(s_info.last_exit->signal, SIGKILL);
  EXPECT_FALSE(sup.running());
  auto why = sup.join(1s);
  ASSERT_TRUE(why.has_value());
  EXPECT_TRUE(why->normal());
  ::unlink(path.c_str());
}

TEST(supervisor, a_supervised_handle_travels_to_another_process_and_survives_a_restart) {
  actors::supervisor sup(actors::supervisor_options().intensity(3, 5s));
  auto c = sup.spawn<counter>(actors::in_new_process, actors::child_spec("shared"), 100);
  int p1 = pid_of(sup, "shared");
  // A sibling process asks through a copy of the handle, before and after.
  auto asker = actors::spawn<relay>(actors::in_new_process);
  EXPECT_EQ(asker.ask(&relay::forward, c, 1).get(5s), 1010);
  ::kill(p1, SIGKILL);
  wait_restarted(sup, "shared", p1);
  EXPECT_EQ(asker.ask(&relay::forward, c, 2).get(5s), 1020);
  sup.stop();
}

TEST(supervisor, bad_arguments_are_clear_errors) {
  EXPECT_THROW(actors::supervisor(actors::supervisor_options().intensity(-1, 5s)), actors::error);
  EXPECT_THROW(actors::supervisor(actors::supervisor_options().intensity(1, 0s)), actors::error);
  actors::supervisor sup;
  sup.spawn<counter>(actors::child_spec("x"), 1);
  try {
    sup.spawn<counter>(actors::child_spec("x"), 2);
    FAIL() << "expected a duplicate id error";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.code(), actors::errc::bad_argument);
    EXPECT_NE(std::string(e.what()).find("already has a child x"), std::string::npos);
  }
  // A constructor that throws: the child is not added, the caller hears why.
  EXPECT_THROW(sup.spawn<explodes>(actors::in_new_process, actors::child_spec("y"), 1),
               actors::remote_error);
  EXPECT_THROW(sup.spawn<explodes>(actors::child_spec("z"), 1), std::runtime_error);
  EXPECT_EQ(sup.children().size(), 1u);
  sup.stop();
}

TEST(supervisor, a_child_s_bounded_mailbox_holds_for_every_instance) {
  actors::supervisor sup(actors::supervisor_options().intensity(3, 5s));
  auto j = sup.spawn<journaled>(actors::in_new_process,
                                actors::child_spec("boxed").mailbox(2, actors::on_full::fail), "b",
                                temp_path("boxed"));
  EXPECT_EQ(j.mailbox().capacity, 2u);
  int pid = pid_of(sup, "boxed");
  ::kill(pid, SIGKILL);
  wait_restarted(sup, "boxed", pid);
  j.ask(&journaled::bump).get(5s); // the new instance answers
  j.tell(&journaled::sleep_ms, 300); // busy: the next ones wait in its mailbox
  int refused = 0;
  for (int i = 0; i < 4; ++i) {
    try {
      j.tell(&journaled::sleep_ms, 1);
    } catch (const actors::error& e) {
      EXPECT_EQ(e.code(), actors::errc::queue_full);
      ++refused;
    }
  }
  EXPECT_GE(refused, 2); // at most 2 fit: the bound holds for the new instance
  sup.stop();
}
