// What a node tells actors-top (runtime/stats.hpp) about its actors: name,
// type, pid, mailbox depth, messages run, and what its supervisor recorded
// with set_supervision(); and the node's socket that answers it.

#include "actor_util.hpp"
#include "runtime/stats.hpp"

#include "actor/cell.hpp"

#include <actors/queue.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "runtime/control.hpp"

#include <gtest/gtest.h>

#include <future>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <unistd.h>

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

// The node's socket (runtime/control.hpp) answers actors-top with the queues
// its queue server owns, and a connection that asks for nothing it serves, or
// sends a bad frame, is closed while the socket goes on serving.
TEST(stats, node_socket_routes_by_first_frame_and_survives_bad_input) {
  actors::queue<int> q;
  q.put(7);
  ASSERT_EQ(q.qsize(), 1u); // the put has reached the server (puts are batched)
  auto path = actors::detail::control_endpoint();
  ASSERT_FALSE(path.empty());

  auto unknown = actors::detail::connect_unix(path);
  ASSERT_TRUE(unknown);
  char op = static_cast<char>(250); // no family serves it
  ASSERT_TRUE(actors::detail::send_frame(unknown.get(), actors::detail::frame_kind::object, &op, 1, {}));
  auto garbage = actors::detail::connect_unix(path);
  ASSERT_TRUE(garbage);
  std::string junk(64, '\xff');
  ASSERT_EQ(::write(garbage.get(), junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  for (int fd : {unknown.get(), garbage.get()}) { // both are closed by the node
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char b;
    auto n = ::read(fd, &b, 1);
    // EOF, or ECONNRESET when the node closed with bytes of ours unread.
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << std::strerror(errno);
  }

  auto s = actors::detail::query_stats(path, std::chrono::seconds(5));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pid, ::getpid());
  bool seen = false;
  for (auto& qs : s->queues)
    seen = seen || (qs.items == 1 && qs.puts >= 1);
  EXPECT_TRUE(seen) << "the queue holding one item is not in the node's stats";
  EXPECT_EQ(q.get(), 7); // and the queue still works
}
