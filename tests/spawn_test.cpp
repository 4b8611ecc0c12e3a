// actors/spawn.hpp: spawn<T>() with each placement, and what travels to
// another process. Mailbox bounds are in mailbox_test.cpp, spares in
// spares_test.cpp.

#include "actor_util.hpp"

#include <actors/spawn.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

namespace {

struct greeter {
  std::string name;
  explicit greeter(std::string n) : name(std::move(n)) {}
  std::string greet(const std::string& who) const { return name + " greets " + who; }
  int pid() const { return ::getpid(); }
};

} // namespace

TEST(spawn, without_a_placement_builds_the_actor_in_this_process) {
  auto c = actors::spawn<counter>(5);
  EXPECT_EQ(c.ask(&counter::pid).get(5s), ::getpid());
  EXPECT_EQ(c.ask(&counter::add, 1).get(5s), 6);
  auto same = actors::spawn<counter>(actors::in_this_process, 5);
  EXPECT_EQ(same.ask(&counter::pid).get(5s), ::getpid());
  EXPECT_NE(c.name(), same.name()); // each gets a name of its own
}

TEST(spawn, in_new_process_and_in_process_of_place_it_where_asked) {
  auto far = actors::spawn<counter>(actors::in_new_process, 10);
  int far_pid = far.ask(&counter::pid).get(5s);
  EXPECT_NE(far_pid, ::getpid());
  EXPECT_EQ(far.pid(), far_pid);
  auto beside = actors::spawn<counter>(actors::in_process_of(far), 1);
  EXPECT_EQ(beside.ask(&counter::pid).get(5s), far_pid);
  auto spawned = actors::spawn<counter>(actors::in_new_process(actors::start_method::spawn), 2);
  int spawned_pid = spawned.ask(&counter::pid).get(5s);
  EXPECT_NE(spawned_pid, ::getpid());
  EXPECT_NE(spawned_pid, far_pid);
  actors::stop(far);
  actors::stop(beside);
  actors::stop(spawned);
}

TEST(spawn, a_c_string_argument_arrives_in_another_process_as_a_string) {
  auto g = actors::spawn<greeter>(actors::in_new_process, "ada");
  EXPECT_NE(g.ask(&greeter::pid).get(5s), ::getpid());
  EXPECT_EQ(g.ask(&greeter::greet, std::string("bob")).get(5s), "ada greets bob");
  actors::stop(g);
}

TEST(spawn, a_constructor_that_throws_in_the_child_is_a_remote_error) {
  struct picky {
    explicit picky(int n) {
      if (n < 0)
        throw std::invalid_argument("negative");
    }
  };
  try {
    (void) actors::spawn<picky>(actors::in_new_process, -1);
    FAIL() << "spawn of a throwing constructor returned";
  } catch (const actors::remote_error& e) {
    EXPECT_NE(std::string(e.what()).find("negative"), std::string::npos) << e.what();
  }
}

TEST(spawn, the_address_is_announced_before_any_of_the_actors_code_runs) {
  // What a process hosting one actor relies on to report it to its parent
  // before the actor's first step, which may end the process.
  static std::atomic<bool> started{false};
  struct early {
    void on_start() { started = true; }
    bool get() const { return started; }
  };
  bool started_first = true;
  std::uint64_t announced = 0;
  auto ref = actors::detail::spawn_cell(actors::detail::kind_of<early>(), new early, {}, {}, nullptr,
                                        [&](const actors::detail::actor_address& a) {
                                          std::this_thread::sleep_for(50ms); // on_start()'s chance
                                          started_first = started;
                                          announced = a.id;
                                        });
  EXPECT_FALSE(started_first);
  EXPECT_EQ(announced, ref->address.id);
  auto e = actors::detail::handle_access::make<early>(ref);
  EXPECT_TRUE(e.ask(&early::get).get(5s));
  actors::stop(e);
}

TEST(spawn, an_actor_whose_first_step_ends_its_process_was_spawned_and_then_died) {
  // The child reports the actor before any of its code runs, so a crash in
  // on_start() is the death of a running actor (a supervisor restarts it),
  // never a failed spawn. Before, the two raced.
  struct doomed {
    void on_start() { std::abort(); }
    int get() const { return 0; }
  };
  for (int i = 0; i < 5; ++i) {
    actors::actor<doomed> d;
    ASSERT_NO_THROW(d = actors::spawn<doomed>(actors::in_new_process)) << "round " << i;
    auto box = std::make_shared<down_box>();
    actors::monitor(d, [box](const actors::down& x) { box->set(x); });
    ASSERT_TRUE(box->wait(5000ms)) << "round " << i;
    EXPECT_EQ(box->d->reason.what, actors::down_reason::kind::signal);
    EXPECT_EQ(box->d->reason.signal, SIGABRT);
    EXPECT_THROW(d.ask(&doomed::get).get(5s), actors::actor_died);
  }
}
