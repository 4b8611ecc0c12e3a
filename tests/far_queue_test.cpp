// A bounded queue used from another host (queue/server_far.cpp), without a
// second host: a handle is marked as one on another host would be, so that
// every call goes to the owner's server, which puts and gets in the ring for
// it, while the original handle keeps using the shared memory. Across real
// hosts: tests/cluster/cluster_program.cpp ("queue").
#include "test_util.hpp"

#include "queue/client.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace std::chrono_literals;
using actors::errc;
using actors::process;
using test_util::error_of;

namespace {

// The handle as a client on another host holds it: its own client, which
// cannot map the ring.
template <class Q>
struct far : Q {
  explicit far(const Q& near) : Q(actors::detail::decode<Q>(actors::detail::encode(near))) {
    this->client_->far = true;
  }
};

// A process "on another host": takes one item, says so, never marks it
// done, and hangs until it is killed.
void take_and_hang(actors::joinable_queue<int> q, actors::event took) {
  far<actors::joinable_queue<int>> f(q);
  (void) f.get(10s);
  took.set();
  std::this_thread::sleep_for(1h);
}

// A process "on another host" whose put waits on a full queue until it is
// killed.
void put_and_hang(actors::queue<int> q, actors::event started) {
  far<actors::queue<int>> f(q);
  started.set();
  f.put(99, 1h);
}

// Creates a bounded queue, sends it to the parent, and waits to be killed.
void own_and_send(actors::connection<actors::queue<int>> out) {
  actors::queue<int> own(2);
  own.put(1);
  out.send(own);
  std::this_thread::sleep_for(60s);
}

} // namespace

TEST(far_queue, puts_and_gets_go_through_the_owner) {
  actors::queue<int> q(4);
  far<actors::queue<int>> f(q);
  EXPECT_EQ(f.maxsize(), 4u);
  f.put(1);
  EXPECT_EQ(q.get(1s), 1);
  q.put(2);
  EXPECT_EQ(f.get(1s), 2);
  EXPECT_EQ(f.qsize(), 0u);
  EXPECT_TRUE(f.empty());
  for (int i = 0; i < 4; ++i)
    f.put(i);
  EXPECT_TRUE(f.full());
  EXPECT_EQ(q.qsize(), 4u);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(f.get(1s), i) << "in order";
  EXPECT_FALSE(f.is_shut_down());
}

TEST(far_queue, a_far_put_waits_while_the_queue_is_full) {
  actors::queue<int> q(2);
  far<actors::queue<int>> f(q);
  q.put(0);
  q.put(1);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.try_put(2, 100ms));
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  EXPECT_THROW(f.put_nowait(2), actors::queue_full);
  EXPECT_EQ(q.qsize(), 2u) << "a put that timed out left nothing behind";
  std::thread consumer([&] {
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(q.get(1s), 0);
  });
  t0 = std::chrono::steady_clock::now();
  f.put(2, 5s);
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  EXPECT_LT(test_util::seconds_since(t0), 2.0) << "the server retries within a few ms";
  consumer.join();
  EXPECT_EQ(q.get(1s), 1);
  EXPECT_EQ(q.get(1s), 2);
}

TEST(far_queue, a_far_get_waits_for_a_local_put) {
  actors::queue<int> q(2);
  far<actors::queue<int>> f(q);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.try_get(100ms));
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  EXPECT_THROW((void) f.get_nowait(), actors::queue_empty);
  std::thread producer([&] {
    std::this_thread::sleep_for(100ms);
    q.put(7);
  });
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(f.get(5s), 7);
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  producer.join();
}

// A call that times out just as the server serves it: the answer that
// crossed the cancel counts, so nothing is lost and nothing is doubled.
TEST(far_queue, timeouts_racing_the_server_lose_nothing) {
  actors::queue<int> q(1);
  far<actors::queue<int>> f(q);
  constexpr int n = 300;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i)
      q.put(i, 10s);
  });
  std::vector<int> got;
  while (got.size() < n)
    if (auto v = f.try_get(std::chrono::microseconds(200 + 100 * (got.size() % 7))))
      got.push_back(*v);
  producer.join();
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
  std::atomic<int> taken{0};
  std::thread consumer([&] {
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(q.get(10s), i);
      ++taken;
    }
  });
  for (int i = 0; i < n;)
    if (f.try_put(i, std::chrono::microseconds(200 + 100 * (i % 7))))
      ++i;
  consumer.join();
  EXPECT_EQ(taken.load(), n);
  EXPECT_EQ(q.qsize(), 0u) << "no put that timed out went in after all";
}

TEST(far_queue, shutdown_reaches_both_sides) {
  actors::queue<int> q(4);
  std::thread getter([&] {
    far<actors::queue<int>> g(q);
    EXPECT_EQ(g.get(5s), 1);
    EXPECT_THROW((void) g.get(5s), actors::queue_shut_down) << "a waiting far get wakes";
  });
  q.put(1);
  std::this_thread::sleep_for(100ms);
  q.shutdown();
  getter.join();
  far<actors::queue<int>> f(q);
  EXPECT_TRUE(f.is_shut_down());
  EXPECT_THROW(f.put(3), actors::queue_shut_down);

  actors::queue<int> s(4);
  far<actors::queue<int>> fs(s);
  s.put(2);
  fs.shutdown();
  EXPECT_TRUE(s.is_shut_down());
  EXPECT_THROW(s.put(3), actors::queue_shut_down);
  EXPECT_EQ(fs.get(1s), 2) << "the items left are still served";
  EXPECT_THROW((void) fs.get(1s), actors::queue_shut_down);

  actors::queue<int> r(2);
  far<actors::queue<int>> fr(r);
  r.put(5);
  fr.shutdown(true);
  EXPECT_TRUE(r.is_shut_down());
  EXPECT_THROW((void) r.get(1s), actors::queue_shut_down) << "immediate: dropped";
  EXPECT_THROW(r.put(6), actors::queue_shut_down);
}

TEST(far_queue, task_done_and_join_across) {
  actors::joinable_queue<int> q(4);
  far<actors::joinable_queue<int>> f(q);
  f.put(1);
  f.put(2);
  EXPECT_EQ(f.get(1s), 1);
  EXPECT_EQ(q.get(1s), 2);
  EXPECT_THROW(f.join(100ms), actors::timeout_error);
  f.task_done();
  EXPECT_EQ(error_of([&] { f.task_done(); }), errc::bad_argument) << "took only one";
  EXPECT_THROW(f.join(100ms), actors::timeout_error) << "q's item is not done";
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    q.task_done();
  });
  f.join(5s);
  later.join();
  q.join(1s);
}

TEST(far_queue, a_far_consumer_killed_holding_an_item_fails_join) {
  actors::joinable_queue<int> q(4);
  actors::event took;
  q.put(1);
  process p(take_and_hang, q, took);
  p.start();
  ASSERT_TRUE(took.wait(10s));
  int pid = p.pid();
  p.kill();
  p.join();
  try {
    q.join(5s);
    ADD_FAILURE() << "join() should fail";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.code(), errc::consumer_died);
    EXPECT_NE(std::string(e.what()).find("consumer pid " + std::to_string(pid) + " died"), std::string::npos)
      << "names the far consumer, from its hello: " << e.what();
  }
}

TEST(far_queue, a_far_producer_killed_while_its_put_waits_leaves_nothing) {
  actors::queue<int> q(1);
  q.put(1);
  actors::event started;
  process p(put_and_hang, q, started);
  p.start();
  ASSERT_TRUE(started.wait(10s));
  std::this_thread::sleep_for(100ms); // its put is waiting at the server
  p.kill();
  p.join();
  std::this_thread::sleep_for(50ms); // the server saw the connection close
  EXPECT_EQ(q.get(1s), 1);
  EXPECT_FALSE(q.try_get(200ms)) << "the dead producer's put never went in";
}

TEST(far_queue, wait_says_when_an_item_can_be_taken) {
  actors::queue<int> q(2);
  far<actors::queue<int>> f(q);
  EXPECT_TRUE(actors::wait({f}, 20ms).empty());
  std::thread producer([&] {
    std::this_thread::sleep_for(100ms);
    q.put(7);
  });
  EXPECT_EQ(actors::wait({f}, 5s).size(), 1u);
  EXPECT_EQ(f.get_nowait(), 7);
  producer.join();
  EXPECT_TRUE(actors::wait({f}, 20ms).empty());
  EXPECT_FALSE(f.try_get(10ms)) << "the watch was withdrawn: the get's answer is its own";
  q.put(8);
  EXPECT_EQ(actors::wait({f}, 5s).size(), 1u);
  EXPECT_EQ(f.get(1s), 8);
}

TEST(far_queue, an_item_of_megabytes_crosses_both_ways) {
  actors::queue<std::string> q(2);
  far<actors::queue<std::string>> f(q);
  std::string big(3 << 20, 'B'); // bigger than the ring at first: it grows
  f.put(big);
  f.put("after");
  EXPECT_EQ(q.get(5s), big);
  EXPECT_EQ(q.get(5s), "after");
  q.put(std::string(2 << 20, 'C'));
  EXPECT_EQ(f.get(5s), std::string(2 << 20, 'C'));
}

TEST(far_queue, the_owner_gone_is_eof) {
  auto [mine, theirs] = actors::pipe<actors::queue<int>>();
  process owner(own_and_send, theirs);
  owner.start();
  theirs.close();
  far<actors::queue<int>> f(mine.recv(10s));
  EXPECT_EQ(f.get(5s), 1);
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    owner.kill();
  });
  EXPECT_EQ(error_of([&] { (void) f.get(20s); }), errc::eof);
  killer.join();
  owner.join();
  EXPECT_EQ(error_of([&] { f.put(2); }), errc::eof);
}
