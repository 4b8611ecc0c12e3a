// actors/spawn.hpp: spawn<T>() with each placement, and what travels to
// another process. Mailbox bounds are in mailbox_test.cpp, spares in
// spares_test.cpp.

#include "actor_util.hpp"

#include <actors/spawn.hpp>

#include <gtest/gtest.h>

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
