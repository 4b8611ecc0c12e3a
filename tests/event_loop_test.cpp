// The io layer's event loop (io/transport.hpp), on its own: what every
// server of the library (the transport, the node's service loop, the
// manager) is built on. White-box: no node, no other process.

#include "io/transport.hpp"
#include "io/wire.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace std::chrono_literals;
using actors::detail::event_loop;
using clock_type = std::chrono::steady_clock;

struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd), 0); }
  ~socket_pair() {
    for (int f : fd)
      if (f >= 0)
        ::close(f);
  }
};

TEST(event_loop, timers_run_in_due_order_and_a_cancelled_one_never_runs) {
  event_loop loop(nullptr, -1, "test.loop", false);
  loop.start();
  std::vector<int> order;
  std::promise<void> done;
  auto now = clock_type::now();
  loop.call([&] {
    loop.at(now + 30ms, [&] { order.push_back(3); done.set_value(); });
    loop.at(now + 10ms, [&] { order.push_back(1); });
    auto gone = loop.at(now + 5ms, [&] { order.push_back(99); });
    loop.at(now + 20ms, [&] { order.push_back(2); });
    loop.cancel(gone);
  });
  ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
  loop.stop();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(clock_type::now() - now, 30ms);
  loop.close_fds();
}

TEST(event_loop, a_timer_may_schedule_the_next_one) {
  // The shape of the queue clients' flush timer (200 us, epoll_pwait2) and of
  // set_tick: each run schedules the next.
  event_loop loop(nullptr, -1, "test.loop", false);
  loop.start();
  std::vector<clock_type::duration> late;
  std::promise<void> done;
  // The step lives in the test's frame, which outlives the loop's timers;
  // a closure holding a shared_ptr to itself would be a cycle (a leak).
  clock_type::time_point start;
  std::function<void(int)> step = [&](int left) {
    late.push_back(clock_type::now() - start);
    if (left == 0)
      return done.set_value();
    start = clock_type::now();
    loop.at(start + 200us, [&step, left] { step(left - 1); });
  };
  loop.call([&] {
    start = clock_type::now();
    loop.at(start + 200us, [&step] { step(20); });
  });
  ASSERT_EQ(done.get_future().wait_for(5s), std::future_status::ready);
  loop.stop();
  loop.close_fds();
  ASSERT_EQ(late.size(), 21u);
  for (auto d : late)
    EXPECT_GE(d, 200us); // never early
}

TEST(event_loop, a_watched_socket_is_read_and_a_handler_may_unwatch_itself) {
  socket_pair sp;
  event_loop loop(nullptr, -1, "test.loop", false);
  loop.start();
  std::promise<std::string> got;
  loop.call([&] {
    loop.watch(sp.fd[0], EPOLLIN, [&](std::uint32_t events) {
      EXPECT_TRUE(events & EPOLLIN);
      char buf[64];
      auto n = ::read(sp.fd[0], buf, sizeof buf);
      loop.unwatch(sp.fd[0]); // destroys this handler's slot; the call must survive it
      got.set_value(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0));
    });
  });
  ASSERT_EQ(::write(sp.fd[1], "ping", 4), 4);
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), "ping");
  // Unwatched: more bytes call nothing (a second set_value would throw).
  ASSERT_EQ(::write(sp.fd[1], "more", 4), 4);
  std::this_thread::sleep_for(20ms);
  loop.stop();
  loop.close_fds();
}

TEST(event_loop, posts_run_in_order_and_call_waits_for_its_function) {
  event_loop loop(nullptr, -1, "test.loop", false);
  loop.start();
  std::vector<int> seen;
  for (int i = 0; i < 100; ++i)
    loop.post([&seen, i] { seen.push_back(i); });
  bool on_loop = false;
  loop.call([&] { on_loop = loop.on_this_thread(); });
  EXPECT_TRUE(on_loop);
  EXPECT_EQ(seen.size(), 100u); // everything posted before call() ran first
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
  EXPECT_FALSE(loop.on_this_thread());
  EXPECT_EQ(event_loop::current(), nullptr); // not a transport loop: runs no actors
  loop.stop();
  loop.close_fds();
}

// A stopped loop that code may still hold a reference to (a pool used while
// its node stops) is retired: what was posted and never ran, and whatever is
// posted later, is dropped (destroyed, never run), and call() runs inline.
TEST(event_loop, a_retired_loop_drops_posts_and_call_runs_inline) {
  event_loop loop(nullptr, -1, "test.loop", false);
  loop.start();
  loop.stop();
  auto token = std::make_shared<int>(0);
  bool ran = false;
  loop.post([token, &ran] { ran = true; }); // after stop: never runs
  EXPECT_EQ(token.use_count(), 2);
  loop.close_fds();
  loop.retire();
  EXPECT_EQ(token.use_count(), 1) << "the pending post was dropped";
  loop.post([token, &ran] { ran = true; });
  EXPECT_EQ(token.use_count(), 1) << "a later post is dropped at once";
  EXPECT_FALSE(ran);
  bool called = false;
  loop.call([&] { called = true; });
  EXPECT_TRUE(called);
}

TEST(event_loop, run_here_serves_on_the_calling_thread_until_quit) {
  socket_pair sp;
  event_loop loop(nullptr, -1, nullptr, true);
  std::string got;
  loop.watch(sp.fd[0], EPOLLIN, [&](std::uint32_t) {
    actors::detail::inbuf in;
    in.read_available(sp.fd[0]);
    got.assign(in.data(), in.size());
    loop.quit();
  });
  std::thread writer([&] {
    std::this_thread::sleep_for(10ms);
    (void) !::write(sp.fd[1], "bye", 3);
  });
  loop.run_here(); // returns once the handler quits
  writer.join();
  EXPECT_EQ(got, "bye");
  loop.close_fds();
}

TEST(event_loop, each_frame_stops_at_a_bad_header_with_a_reason) {
  socket_pair sp;
  std::string bytes;
  char head[actors::detail::frame_header_size];
  actors::detail::put_header(head, {3, 0, actors::detail::frame_kind::object});
  bytes.append(head, sizeof head).append("abc");
  bytes.append(sizeof head, '\xff'); // garbage where the next header should be
  ASSERT_EQ(::write(sp.fd[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  actors::detail::inbuf in;
  ASSERT_TRUE(in.read_available(sp.fd[0]));
  std::vector<std::string> frames;
  std::string why;
  auto status = actors::detail::each_frame(in, [&](const char* p, std::size_t n) {
    frames.emplace_back(p, n);
    return true;
  }, why);
  EXPECT_EQ(status, actors::detail::frames_status::bad);
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(frames, (std::vector<std::string>{"abc"}));
}

} // namespace
