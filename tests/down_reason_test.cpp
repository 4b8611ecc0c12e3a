// actors/down_reason.hpp: why an actor stopped, as monitors and asks see it.

#include "actor_util.hpp"

#include <actors/detail/serialize.hpp>
#include <actors/down_reason.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <future>

TEST(down_reason, describe_names_each_kind_with_its_detail) {
  using kind = actors::down_reason::kind;
  EXPECT_EQ((actors::down_reason{kind::normal, 0, 0, ""}).describe(), "stopped normally");
  EXPECT_EQ((actors::down_reason{kind::exception, 0, 0, "std::runtime_error: boom"}).describe(),
            "stopped by an exception: std::runtime_error: boom");
  EXPECT_NE((actors::down_reason{kind::signal, SIGKILL, 0, ""}).describe().find("signal 9"),
            std::string::npos);
  EXPECT_EQ((actors::down_reason{kind::exited, 0, 3, ""}).describe(),
            "its process exited with code 3");
  EXPECT_NE((actors::down_reason{kind::linked, 0, 0, "counter-1 died"}).describe().find("counter-1"),
            std::string::npos);
  EXPECT_TRUE((actors::down_reason{kind::normal, 0, 0, ""}).normal());
  EXPECT_FALSE((actors::down_reason{kind::unreachable, 0, 0, "gone"}).normal());
}

TEST(down_reason, travels_between_processes_unchanged) {
  actors::down_reason r{actors::down_reason::kind::exited, 0, 42, "why"};
  auto back = actors::detail::decode<actors::down_reason>(actors::detail::encode(r));
  EXPECT_EQ(back.what, r.what);
  EXPECT_EQ(back.exitcode, 42);
  EXPECT_EQ(back.message, "why");
}

TEST(down_reason, an_ask_to_a_stopped_actor_fails_with_actor_died_and_its_reason) {
  auto c = actors::spawn<counter>(1);
  auto f = c.ask(&counter::fail, std::string("boom")); // an ask's throw does not stop it
  EXPECT_THROW(f.get(5s), actors::remote_error);
  std::promise<actors::down_reason> down;
  actors::monitor(c, [&down](const actors::down& d) { down.set_value(d.reason); });
  c.tell(&counter::fail, std::string("boom")); // a tell's throw does
  auto seen = down.get_future();
  ASSERT_EQ(seen.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(seen.get().what, actors::down_reason::kind::exception);
  try {
    c.ask(&counter::get).get(5s);
    FAIL() << "an ask to a stopped actor succeeded";
  } catch (const actors::actor_died& e) {
    EXPECT_EQ(e.actor(), c.name());
    EXPECT_EQ(e.reason().what, actors::down_reason::kind::exception);
    EXPECT_NE(std::string(e.what()).find("boom"), std::string::npos) << e.what();
  }
}
