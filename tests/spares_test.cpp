// Spare processes (set_spare_processes): spawn(in_new_process) and supervisor
// restarts take a process started ahead of need, which must behave exactly
// like one started for the spawn. Real processes, real kills.

#include "actor_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

namespace {

struct reporter {
  std::vector<std::string> words;
  explicit reporter(std::vector<std::string> w) : words(std::move(w)) {}
  std::vector<std::string> get() const { return words; }
  int pid() const { return ::getpid(); }
  std::string process_name() const { return actors::current_process().name(); }
  int log_threshold() const { return static_cast<int>(actors::log::current_config().threshold); }
  int start_method() const { return static_cast<int>(actors::get_start_method()); }
};

struct refuses {
  explicit refuses(int) { throw std::invalid_argument("no thanks"); }
  int get() const { return 0; }
};

bool contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Waits until `pid` is gone (it is not our child: the fork server reaps it).
bool gone(int pid) {
  return eventually([pid] { return ::kill(pid, 0) != 0; });
}

std::vector<int> ready_spares() {
  EXPECT_TRUE(actors::detail::await_spares(10s));
  return actors::detail::spare_pids();
}

TEST(spares, a_spawn_takes_a_ready_spare_which_behaves_as_a_new_process) {
  actors::set_spare_processes(1);
  auto spares = ready_spares();
  ASSERT_EQ(spares.size(), 1u);
  // Settings changed after the spare started reach it when it is taken.
  auto before = actors::log::current_config();
  auto changed = before;
  changed.threshold = actors::log::level::error;
  actors::log::basic_config(changed);
  auto r = actors::spawn<reporter>(actors::in_new_process, std::vector<std::string>{"a", "b"});
  actors::log::basic_config(before);
  EXPECT_EQ(r.pid(), spares[0]);
  EXPECT_EQ(r.ask(&reporter::get).get(5s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.ask(&reporter::process_name).get(5s), r.name());
  EXPECT_EQ(r.ask(&reporter::log_threshold).get(5s), static_cast<int>(actors::log::level::error));
  EXPECT_EQ(r.ask(&reporter::start_method).get(5s), static_cast<int>(actors::get_start_method()));
  // It is listed as the actor's process now; an idle spare is not listed.
  auto kids = actors::active_children();
  EXPECT_EQ(std::count_if(kids.begin(), kids.end(), [&](const actors::process& p) { return p.pid() == r.pid(); }), 1);
  auto next = ready_spares();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_NE(next[0], spares[0]);
  kids = actors::active_children();
  EXPECT_EQ(std::count_if(kids.begin(), kids.end(), [&](const actors::process& p) { return p.pid() == next[0]; }), 0);
  // Its death reads as any actor process's.
  std::optional<actors::down> seen;
  std::mutex m;
  actors::monitor(r, [&](const actors::down& d) {
    std::lock_guard<std::mutex> lock(m);
    seen = d;
  });
  ::kill(r.pid(), SIGKILL);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(m);
    return seen.has_value();
  }));
  EXPECT_NE(seen->reason.describe().find("signal 9"), std::string::npos) << seen->reason.describe();
}

struct writer {
  actors::connection<int> out;
  explicit writer(actors::connection<int> c) : out(std::move(c)) {}
  int pid() const { return ::getpid(); }
  void write(int v) { out.send(v); }
};

TEST(spares, descriptors_in_constructor_arguments_reach_the_actor_in_a_spare) {
  actors::set_spare_processes(1);
  auto spares = ready_spares();
  ASSERT_EQ(spares.size(), 1u);
  auto [in, out] = actors::pipe<int>(false);
  auto w = actors::spawn<writer>(actors::in_new_process, out);
  out.close();
  EXPECT_EQ(w.pid(), spares[0]);
  w.tell(&writer::write, 42);
  EXPECT_EQ(in.try_recv(5s), std::optional<int>(42));
  ::kill(w.pid(), SIGKILL); // the only writer left: its reader sees the end
  EXPECT_THROW(in.try_recv(5s), actors::eof_error);
}

TEST(spares, a_constructor_that_throws_in_a_spare_is_a_remote_error_and_the_next_spawn_works) {
  actors::set_spare_processes(1);
  auto spares = ready_spares();
  try {
    actors::spawn<refuses>(actors::in_new_process, 1);
    FAIL() << "the constructor threw";
  } catch (const actors::remote_error& e) {
    EXPECT_NE(std::string(e.what()).find("no thanks"), std::string::npos) << e.what();
  }
  auto r = actors::spawn<reporter>(actors::in_new_process, std::vector<std::string>{"c"});
  EXPECT_EQ(r.ask(&reporter::get).get(5s), std::vector<std::string>{"c"});
}

TEST(spares, a_spare_killed_while_idle_is_replaced_by_a_started_process) {
  actors::set_spare_processes(1);
  auto spares = ready_spares();
  ASSERT_EQ(spares.size(), 1u);
  ::kill(spares[0], SIGKILL);
  ASSERT_TRUE(gone(spares[0]));
  auto r = actors::spawn<reporter>(actors::in_new_process, std::vector<std::string>{"d"});
  EXPECT_NE(r.pid(), spares[0]);
  EXPECT_EQ(r.ask(&reporter::get).get(5s), std::vector<std::string>{"d"});
}

TEST(spares, none_are_kept_at_zero_and_fork_never_takes_one) {
  actors::set_spare_processes(1);
  auto spares = ready_spares();
  ASSERT_EQ(spares.size(), 1u);
  auto f = actors::spawn<reporter>(actors::in_new_process(actors::start_method::fork),
                                   std::vector<std::string>{"e"});
  EXPECT_FALSE(contains(spares, f.pid()));
  EXPECT_EQ(f.ask(&reporter::get).get(5s), std::vector<std::string>{"e"});

  actors::set_spare_processes(0);
  EXPECT_TRUE(actors::detail::spare_pids().empty());
  EXPECT_TRUE(gone(spares[0])); // let go: it exits by itself
  auto r = actors::spawn<reporter>(actors::in_new_process, std::vector<std::string>{"f"});
  EXPECT_EQ(r.ask(&reporter::get).get(5s), std::vector<std::string>{"f"});
  EXPECT_TRUE(actors::detail::spare_pids().empty());
  EXPECT_THROW(actors::set_spare_processes(-1), actors::error);
  EXPECT_THROW(actors::set_spare_processes(65), actors::error);
  actors::set_spare_processes(1);
}

TEST(spares, a_supervisor_restarts_a_killed_child_in_a_spare) {
  actors::set_spare_processes(1);
  actors::supervisor sup(actors::supervisor_options().intensity(5, 5s));
  auto w = sup.spawn<reporter>(actors::in_new_process, actors::child_spec("w"),
                               std::vector<std::string>{"g"});
  int first = w.ask(&reporter::pid).get(5s);
  auto spares = ready_spares();
  ASSERT_EQ(spares.size(), 1u);
  ::kill(first, SIGKILL);
  int second = 0;
  ASSERT_TRUE(eventually([&] {
    try {
      second = w.ask(&reporter::pid).get(1s);
      return second != first;
    } catch (const actors::actor_died&) {
      return false;
    }
  }));
  EXPECT_EQ(second, spares[0]);
  EXPECT_EQ(w.ask(&reporter::get).get(5s), std::vector<std::string>{"g"});
  EXPECT_EQ(w.ask(&reporter::process_name).get(5s), "w");
  sup.stop();
}

} // namespace
