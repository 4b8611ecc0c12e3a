// A bounded queue's ring (queue/ring.hpp) on its own, without a server:
// order and wrap-around, maxsize, growth for big items, shutdown, join, the
// owner's end, threads, and processes killed in the middle of a put or get.

#include "test_util.hpp"

#include "base/fd.hpp"
#include "queue/ring.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <sys/mman.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace std::chrono_literals;
using actors::detail::ring;
using result = ring::result;

auto soon(std::chrono::milliseconds ms = 5000ms) {
  return std::chrono::steady_clock::now() + ms;
}
auto now() {
  return std::chrono::steady_clock::now();
}

result put(ring& r, const std::string& s, std::chrono::steady_clock::time_point until = soon()) {
  return r.put(s.data(), s.size(), until, {});
}

std::string get(ring& r, std::chrono::steady_clock::time_point until = soon()) {
  std::string out;
  auto res = r.get(out, until, {}, -1);
  return res == result::ok ? out : "<" + std::to_string(static_cast<int>(res)) + ">";
}

// A ring served from the calling thread, as the server's loop serves it.
struct served_ring : ring {
  served_ring(std::uint64_t maxsize, bool joinable = false) : ring(maxsize, joinable) {
    serve_from_this_thread();
  }
  ~served_ring() { close(); }
};

TEST(queue_ring, items_of_every_size_come_out_in_order_across_the_wrap) {
  served_ring r(16);
  // 64 KiB of data area: sizes up to ~5 KiB wrap it many times.
  std::uint32_t next_put = 0, next_get = 0;
  auto item = [](std::uint32_t i) { return std::string((i * 7919) % 5000, static_cast<char>('a' + i % 26)); };
  while (next_get < 2000) {
    while (next_put < 2000 && put(r, item(next_put), now()) == result::ok)
      ++next_put;
    ASSERT_LE(r.size(), 16u);
    for (int k = 0; k < 3 && next_get < next_put; ++k)
      ASSERT_EQ(get(r), item(next_get++)) << "item " << next_get - 1;
  }
  EXPECT_EQ(r.size(), 0u);
}

TEST(queue_ring, maxsize_holds_puts_and_an_empty_ring_holds_gets) {
  served_ring r(2);
  EXPECT_EQ(put(r, "a"), result::ok);
  EXPECT_EQ(put(r, "b"), result::ok);
  auto t0 = now();
  EXPECT_EQ(put(r, "c", soon(50ms)), result::timeout);
  EXPECT_GE(now() - t0, 50ms);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(get(r), "a");
  EXPECT_EQ(get(r), "b");
  t0 = now();
  EXPECT_EQ(get(r, soon(50ms)), "<1>") << "timeout";
  EXPECT_GE(now() - t0, 50ms);
}

TEST(queue_ring, an_item_bigger_than_the_ring_waits_for_it_to_empty_then_grows_it) {
  served_ring r(4);
  const std::string big(3 << 20, 'B'); // 3 MiB: the ring starts at 64 KiB
  ASSERT_EQ(put(r, "small"), result::ok);
  EXPECT_EQ(put(r, big, soon(50ms)), result::timeout) << "grows only when empty";
  EXPECT_EQ(get(r), "small");
  ASSERT_EQ(put(r, big), result::ok);
  ASSERT_EQ(put(r, "after"), result::ok);
  // Another mapping of the same ring sees the grown area.
  ring other(actors::detail::unique_fd(::dup(r.fd())));
  EXPECT_EQ(get(other), big);
  EXPECT_EQ(get(r), "after");
}

TEST(queue_ring, a_blocked_get_takes_an_item_put_from_another_thread) {
  served_ring r(1);
  std::thread producer([&] {
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(put(r, "late"), result::ok);
  });
  EXPECT_EQ(get(r), "late");
  producer.join();
}

TEST(queue_ring, shutdown_refuses_puts_and_ends_gets_once_empty) {
  served_ring r(4);
  ASSERT_EQ(put(r, "left"), result::ok);
  std::thread blocked_put([&] {
    ASSERT_EQ(put(r, "x"), result::ok);
    ASSERT_EQ(put(r, "y"), result::ok);
    ASSERT_EQ(put(r, "z"), result::ok);
    EXPECT_EQ(put(r, "w"), result::shut_down) << "woken by the shutdown";
  });
  while (r.size() < 4)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  r.shutdown(false);
  blocked_put.join();
  EXPECT_TRUE(r.is_shut_down());
  EXPECT_EQ(get(r), "left");
  EXPECT_EQ(get(r), "x");
  EXPECT_EQ(get(r), "y");
  EXPECT_EQ(get(r), "z");
  EXPECT_EQ(get(r), "<2>") << "shut_down once empty";
  EXPECT_TRUE(r.get_would_return());
}

TEST(queue_ring, an_immediate_shutdown_drops_the_items_and_counts_them_done) {
  served_ring r(4, true);
  ASSERT_EQ(put(r, "a"), result::ok);
  ASSERT_EQ(put(r, "b"), result::ok);
  std::string why;
  EXPECT_EQ(r.join(soon(20ms), {}, why), result::timeout);
  r.shutdown(true);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(get(r), "<2>");
  EXPECT_EQ(r.join(soon(), {}, why), result::ok);
}

TEST(queue_ring, join_waits_for_every_task_done) {
  served_ring r(4, true);
  int rec = r.claim_record(::getpid());
  ASSERT_GE(rec, 0);
  ASSERT_EQ(put(r, "a"), result::ok);
  std::string item, why;
  ASSERT_EQ(r.get(item, soon(), {}, rec), result::ok);
  std::thread worker([&] {
    std::this_thread::sleep_for(50ms);
    r.task_done(rec);
  });
  auto t0 = now();
  EXPECT_EQ(r.join(soon(), {}, why), result::ok);
  EXPECT_GE(now() - t0, 40ms);
  worker.join();
  r.release_record(rec, ("pid " + std::to_string(::getpid())).c_str());
  EXPECT_EQ(r.join(soon(20ms), {}, why), result::ok) << "nothing was left unfinished";
}

TEST(queue_ring, calls_fail_once_the_owner_closes_it_or_its_thread_ends) {
  {
    served_ring r(2);
    std::thread waiter([&] { EXPECT_EQ(get(r), "<3>") << "owner_gone wakes a waiting get"; });
    std::this_thread::sleep_for(30ms);
    r.close();
    waiter.join();
    EXPECT_FALSE(r.owner_alive());
    EXPECT_EQ(put(r, "x"), result::owner_gone);
  }
  // The serving thread dies holding the owner lock: the kernel marks it, and
  // a client sees it without any message.
  ring r(2, false);
  std::thread([&] { r.serve_from_this_thread(); }).join();
  EXPECT_FALSE(r.owner_alive());
  EXPECT_EQ(put(r, "x"), result::owner_gone);
  EXPECT_EQ(get(r), "<3>");
}

TEST(queue_ring, four_producer_and_four_consumer_threads_lose_and_duplicate_nothing) {
  served_ring r(8);
  constexpr int per = 5000;
  std::atomic<long> sum{0};
  std::atomic<int> count{0};
  std::atomic<bool> over{false};
  std::vector<std::thread> ts;
  for (int p = 0; p < 4; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per; ++i) {
        auto s = std::to_string(p * per + i);
        ASSERT_EQ(put(r, s), result::ok);
      }
    });
  for (int c = 0; c < 4; ++c)
    ts.emplace_back([&] {
      for (int i = 0; i < per; ++i) {
        auto s = get(r);
        if (s.empty() || s[0] == '<')
          return ADD_FAILURE() << s;
        sum += std::stol(s);
        ++count;
        if (r.size() > 8)
          over = true;
      }
    });
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(count.load(), 4 * per);
  EXPECT_EQ(sum.load(), static_cast<long>(4 * per) * (4 * per - 1) / 2);
  EXPECT_FALSE(over.load());
}

// Kills `pid` after `after` and reaps it.
void kill_after(pid_t pid, std::chrono::microseconds after) {
  std::this_thread::sleep_for(after);
  ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
}

// Producers killed at random moments, in or out of the ring's lock: what
// they put arrives whole and in order, maxsize holds, and the ring goes on.
TEST(queue_ring, a_producer_killed_mid_put_leaves_whole_items_and_a_working_ring) {
  served_ring r(32);
  for (int round = 0; round < 20; ++round) {
    std::atomic<bool> stop{false};
    std::uint32_t got = 0;
    bool ordered = true, whole = true, bounded = true;
    std::thread consumer([&] {
      std::string item;
      while (true) {
        auto res = r.get(item, soon(20ms), {}, -1);
        if (res != result::ok) {
          if (stop)
            return;
          continue;
        }
        std::uint32_t v = 0;
        whole = whole && item.size() == 64;
        std::memcpy(&v, item.data(), 4);
        ordered = ordered && v == got;
        bounded = bounded && r.size() <= 32;
        ++got;
      }
    });
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string item(64, 'p');
      for (std::uint32_t i = 0;; ++i) {
        std::memcpy(item.data(), &i, 4);
        (void) r.put(item.data(), item.size(), soon(), {});
      }
    }
    kill_after(pid, std::chrono::microseconds(300 + 137 * round));
    stop = true;
    consumer.join();
    EXPECT_TRUE(whole) << "round " << round;
    EXPECT_TRUE(ordered) << "round " << round;
    EXPECT_TRUE(bounded) << "round " << round;
    EXPECT_EQ(r.size(), 0u);
    ASSERT_EQ(put(r, "still here"), result::ok);
    ASSERT_EQ(get(r), "still here");
  }
}

// Consumers killed at random moments: every item is either one the consumer
// had taken (it records each, so at most the one in its hands when killed
// is not recorded) or still in the ring, in order.
TEST(queue_ring, a_consumer_killed_mid_get_loses_nothing_it_had_not_taken) {
  served_ring r(16);
  constexpr std::uint32_t n = 4000;
  auto* taken = static_cast<std::atomic<std::uint32_t>*>(
    ::mmap(nullptr, sizeof(std::atomic<std::uint32_t>), PROT_READ | PROT_WRITE,
           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(taken, MAP_FAILED);
  for (int round = 0; round < 10; ++round) {
    taken->store(0);
    pid_t pid = ::fork();
    if (pid == 0) {
      std::string item;
      for (;;)
        if (r.get(item, soon(), {}, -1) == result::ok)
          taken->fetch_add(1);
    }
    std::uint32_t produced = 0;
    std::thread producer([&] {
      for (std::uint32_t i = 0; i < n; ++i, ++produced) {
        std::string item(4, '\0');
        std::memcpy(item.data(), &i, 4);
        if (r.put(item.data(), 4, soon(200ms), {}) != result::ok)
          return; // the consumer is dead and the ring full: stop here
      }
    });
    kill_after(pid, std::chrono::microseconds(500 + 211 * round));
    producer.join();
    std::uint32_t left = 0, expect = 0;
    bool first = true, ordered = true;
    ASSERT_GT(produced, 0u);
    std::string item;
    while (r.get(item, now(), {}, -1) == result::ok) {
      std::uint32_t v = 0;
      std::memcpy(&v, item.data(), 4);
      if (!first && v != expect)
        ordered = false;
      first = false;
      expect = v + 1;
      ++left;
    }
    EXPECT_TRUE(ordered) << "round " << round;
    // Items put = items the consumer recorded + those left (+ at most the
    // one in its hands), and what is left is the end of what was put.
    auto accounted = taken->load() + left;
    EXPECT_LE(accounted, produced) << "round " << round;
    EXPECT_GE(accounted + 1, produced) << "round " << round << ": items lost";
    if (!first) {
      EXPECT_EQ(expect, produced) << "round " << round;
    }
  }
  ::munmap(taken, sizeof(std::atomic<std::uint32_t>));
}

} // namespace
