// What a node tells actors-top (detail/stats.hpp) about its actors: name,
// type, pid, mailbox depth, messages run, and what its supervisor recorded
// with set_supervision().

#include "actor_util.hpp"

#include "actor/cell.hpp"

#include <actors/detail/stats.hpp>

#include <gtest/gtest.h>

#include <future>

namespace {

// Holds its mailbox shut until the test opens the gate.
struct gate {
  explicit gate(std::shared_future<void> open) : open_(std::move(open)) {}
  void hold() { open_.wait(); }
  void pass() {}
  std::shared_future<void> open_;
};

const actors::detail::actor_stats* find(const actors::detail::node_stats& s,
                                        const std::string& name) {
  for (auto& a : s.actors)
    if (a.name == name)
      return &a;
  return nullptr;
}

} // namespace

TEST(stats, each_live_actor_with_its_depth_messages_run_restarts_and_supervisor) {
  std::promise<void> opener;
  auto g = actors::spawn<gate>(opener.get_future().share());
  auto other = actors::spawn<counter>(1);
  g.tell(&gate::hold);
  for (int i = 0; i < 10; ++i)
    g.tell(&gate::pass);
  auto& cell = *actors::detail::handle_access::ref(g)->local;
  actors::detail::set_supervision(cell, "sup-1", 2);

  auto s = actors::detail::collect_stats();
  auto* a = find(s, g.name());
  ASSERT_NE(a, nullptr) << "no stats for " << g.name();
  EXPECT_EQ(a->type, "gate");
  EXPECT_EQ(a->pid, ::getpid());
  EXPECT_EQ(a->depth, 11u) << "hold() (running or not) and 10 pass()es wait";
  EXPECT_EQ(a->handled, 0u);
  EXPECT_EQ(a->restarts, 2u);
  EXPECT_EQ(a->supervisor, "sup-1");
  auto* b = find(s, other.name());
  ASSERT_NE(b, nullptr) << "no stats for " << other.name();
  EXPECT_EQ(b->type, "counter");
  EXPECT_EQ(b->restarts, 0u);
  EXPECT_EQ(b->supervisor, "");

  opener.set_value();
  g.ask(&gate::pass).get(5s);
  s = actors::detail::collect_stats();
  a = find(s, g.name());
  ASSERT_NE(a, nullptr);
  EXPECT_GE(a->handled, 11u);
  EXPECT_LE(a->depth, 1u) << "only the ask may not be counted as run yet";
}
