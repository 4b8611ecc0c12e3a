// actors/mailbox.hpp: an actor's mailbox bound as a value, and `.mailbox()`
// on each placement. What a full mailbox does to senders is tested in
// actor_test.cpp (a_full_bounded_mailbox_...).

#include <actors/detail/serialize.hpp>
#include <actors/mailbox.hpp>
#include <actors/spawn.hpp>

#include <gtest/gtest.h>

#include <chrono>

using namespace std::chrono_literals;

TEST(mailbox, unbounded_unless_a_capacity_is_given) {
  actors::mailbox_options unbounded;
  EXPECT_FALSE(unbounded.bounded());
  EXPECT_EQ(unbounded.when_full, actors::on_full::block);
  EXPECT_EQ(unbounded.timeout, actors::forever);
  actors::mailbox_options ten{10, actors::on_full::fail, 250ms};
  EXPECT_TRUE(ten.bounded());
}

TEST(mailbox, its_bound_travels_with_the_handle_unchanged) {
  actors::mailbox_options o{100, actors::on_full::fail, 1500ms};
  auto back = actors::detail::decode<actors::mailbox_options>(actors::detail::encode(o));
  EXPECT_EQ(back.capacity, 100u);
  EXPECT_EQ(back.when_full, actors::on_full::fail);
  EXPECT_EQ(back.timeout, o.timeout);
}

TEST(mailbox, each_placement_takes_a_bound_and_keeps_the_rest) {
  auto here = actors::in_this_process.mailbox(5);
  EXPECT_EQ(here.box.capacity, 5u);
  EXPECT_EQ(here.box.when_full, actors::on_full::block);
  auto there = actors::in_new_process(actors::start_method::spawn).mailbox(7, actors::on_full::fail, 1s);
  EXPECT_EQ(there.box.capacity, 7u);
  EXPECT_EQ(there.box.when_full, actors::on_full::fail);
  EXPECT_EQ(there.box.timeout, actors::duration(1s));
  ASSERT_TRUE(there.method);
  EXPECT_EQ(*there.method, actors::start_method::spawn);
  EXPECT_FALSE(actors::in_new_process.box.bounded()); // the defaults stay unbounded
  EXPECT_FALSE(actors::in_this_process.box.bounded());
}
