// Locks, semaphores and events lent to another host (detail/remote_sync.hpp,
// src/sync/coordinator.cpp), without a second host: a handle encoded as it
// would be for another host is decoded here, so every call goes through the
// coordinator actor, while the original handle keeps using the shared memory.
// Across real hosts: tests/cluster/cluster_program.cpp ("sync").
#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using actors::errc;
using actors::process;
using test_util::error_of;

namespace {

// The handle as another host would get it: through its coordinator.
template <class T>
T far(const T& near) {
  auto bytes = actors::detail::encode_across_hosts(near);
  return actors::detail::decode<T>(bytes);
}

template <class T>
std::string far_bytes(const T& near) {
  return actors::detail::encode_across_hosts(near);
}

// A process on "another host": takes the lock through the coordinator,
// says so, and hangs until it is killed.
void hold_far_and_hang(std::string bytes, actors::event held) {
  auto m = actors::detail::decode<actors::mutex>(bytes);
  m.acquire();
  held.set();
  std::this_thread::sleep_for(1h);
}

void take_two_far_permits_and_hang(std::string bytes, actors::event held) {
  auto s = actors::detail::decode<actors::semaphore>(bytes);
  s.acquire();
  s.acquire();
  held.set();
  std::this_thread::sleep_for(1h);
}

} // namespace

TEST(far_sync, a_lock_taken_far_excludes_local_holders_and_back) {
  actors::mutex m;
  auto f = far(m);
  EXPECT_FALSE(f.locked());
  ASSERT_TRUE(f.acquire());
  EXPECT_TRUE(f.locked());
  EXPECT_TRUE(m.locked());
  EXPECT_FALSE(m.acquire(false)); // the coordinator holds it for the far thread
  EXPECT_FALSE(f.acquire(false));
  EXPECT_EQ(error_of([&] { f.acquire(); }), errc::bad_argument); // would deadlock
  f.release();
  EXPECT_FALSE(m.locked());
  ASSERT_TRUE(m.acquire(false));
  EXPECT_FALSE(f.acquire(false));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(f.acquire(true, 100ms));
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  m.release();
  EXPECT_EQ(error_of([&] { f.release(); }), errc::not_owner);
  std::ostringstream os;
  os << f;
  EXPECT_EQ(os.str(), "<actors::mutex unlocked, lent by another host>");
}

TEST(far_sync, a_far_acquire_waits_for_the_local_holder) {
  actors::mutex m;
  auto f = far(m);
  actors::event held;
  std::thread holder([&] {
    m.acquire();
    held.set();
    std::this_thread::sleep_for(150ms);
    m.release();
  });
  ASSERT_TRUE(held.wait(10s));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(f.acquire(true, 10s));
  EXPECT_GE(test_util::seconds_since(t0), 0.05);
  f.release();
  holder.join();
}

TEST(far_sync, far_threads_are_holders_of_their_own) {
  actors::mutex m;
  auto f = far(m);
  ASSERT_TRUE(f.acquire());
  bool other_took_it = true;
  bool other_released = true;
  std::thread other([&] {
    other_took_it = f.acquire(true, 50ms);
    try {
      f.release();
    } catch (const actors::error& e) {
      other_released = e.value() != errc::not_owner;
    }
  });
  other.join();
  EXPECT_FALSE(other_took_it);
  EXPECT_FALSE(other_released);
  f.release();
}

TEST(far_sync, a_recursive_lock_counts_far_acquires) {
  actors::recursive_mutex m;
  auto f = far(m);
  ASSERT_TRUE(f.acquire());
  ASSERT_TRUE(f.acquire());
  EXPECT_FALSE(f.locked()); // held only by the calling thread
  EXPECT_TRUE(m.locked());
  f.release();
  EXPECT_TRUE(m.locked());
  f.release();
  EXPECT_FALSE(m.locked());
}

TEST(far_sync, semaphore_permits_are_shared_with_local_users) {
  actors::bounded_semaphore s(2);
  auto f = far(s);
  EXPECT_EQ(f.get_value(), 2u);
  ASSERT_TRUE(f.acquire());
  ASSERT_TRUE(s.acquire(false));
  EXPECT_EQ(f.get_value(), 0u);
  EXPECT_FALSE(f.acquire(false));
  EXPECT_FALSE(f.acquire(true, 50ms));
  s.release();
  ASSERT_TRUE(f.acquire(true, 1s));
  f.release();
  f.release();
  EXPECT_EQ(s.get_value(), 2u);
  EXPECT_EQ(error_of([&] { f.release(); }), errc::bad_argument); // bounded
  std::ostringstream os;
  os << f;
  EXPECT_EQ(os.str(), "<actors::semaphore value=2, lent by another host>");
}

TEST(far_sync, an_event_set_on_either_side_is_seen_on_the_other) {
  actors::event e;
  auto f = far(e);
  EXPECT_FALSE(f.is_set());
  EXPECT_FALSE(f.wait(30ms));
  f.set();
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(f.is_set());
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);
    e.set();
  });
  EXPECT_TRUE(f.wait(10s));
  setter.join();
  f.clear();
  EXPECT_FALSE(e.is_set());
}

TEST(far_sync, a_far_handle_travels_on_as_a_far_handle) {
  actors::mutex m;
  auto f = far(m);
  auto g = far(f); // encoded again (to a third host, or back): same coordinator
  ASSERT_TRUE(g.acquire());
  EXPECT_TRUE(f.locked());
  g.release();
  EXPECT_FALSE(m.locked());
  // Even where descriptors may travel it stays far: it has none to give.
  std::vector<int> fds;
  auto h = actors::detail::decode<actors::mutex>(actors::detail::encode(f, &fds));
  EXPECT_TRUE(fds.empty());
  ASSERT_TRUE(h.acquire(false));
  EXPECT_TRUE(m.locked());
  h.release();
}

TEST(far_sync, without_crossing_hosts_a_lock_in_a_message_is_still_refused) {
  actors::mutex m;
  try {
    actors::detail::encode(m);
    ADD_FAILURE() << "encoded";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_argument);
    EXPECT_NE(std::string(e.what()).find("never to another host"), std::string::npos) << e.what();
  }
}

TEST(far_sync, a_dead_far_holder_gives_the_lock_back) {
  actors::mutex m;
  actors::event held;
  process p(hold_far_and_hang, far_bytes(m), held);
  p.start();
  ASSERT_TRUE(held.wait(10s));
  EXPECT_FALSE(m.acquire(false));
  p.kill();
  p.join();
  // The coordinator sees its holder's process die and unlocks.
  ASSERT_TRUE(m.acquire(true, 10s));
  m.release();
  // A far acquirer is told that a holder died inside.
  auto f = far(m);
  ASSERT_TRUE(f.acquire(true, 10s));
  EXPECT_TRUE(f.owner_died());
  f.release();
  ASSERT_TRUE(f.acquire(true, 10s));
  EXPECT_FALSE(f.owner_died());
  f.release();
}

TEST(far_sync, a_dead_far_holder_gives_its_permits_back) {
  actors::semaphore s(3);
  actors::event held;
  process p(take_two_far_permits_and_hang, far_bytes(s), held);
  p.start();
  ASSERT_TRUE(held.wait(10s));
  EXPECT_EQ(s.get_value(), 1u);
  p.kill();
  p.join();
  auto t0 = std::chrono::steady_clock::now();
  while (s.get_value() != 3u && test_util::seconds_since(t0) < 10)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(s.get_value(), 3u);
}

namespace {
// An actor that uses far handles from inside its methods.
struct far_user {
  actors::mutex m;
  explicit far_user(std::string bytes) : m(actors::detail::decode<actors::mutex>(bytes)) {}
  bool try_take() {
    if (!m.acquire(false))
      return false;
    m.release();
    return true;
  }
};
} // namespace

TEST(far_sync, an_actor_in_another_process_calls_through_the_coordinator) {
  actors::mutex m;
  auto u = actors::spawn<far_user>(actors::in_new_process, far_bytes(m));
  ASSERT_TRUE(m.acquire());
  EXPECT_FALSE(u.ask(&far_user::try_take).get(10s));
  m.release();
  EXPECT_TRUE(u.ask(&far_user::try_take).get(10s));
  auto here = actors::spawn<far_user>(actors::in_this_process, far_bytes(m));
  EXPECT_TRUE(here.ask(&far_user::try_take).get(10s));
}

namespace {
// A lender that goes away: it lends a lock and exits.
void lend_and_exit(actors::connection<std::string> out) {
  actors::mutex m;
  out.send(far_bytes(m));
}
} // namespace

TEST(far_sync, calls_fail_clearly_once_the_lender_is_gone) {
  auto [mine, theirs] = actors::pipe<std::string>(false);
  process p(lend_and_exit, theirs);
  p.start();
  auto bytes = mine.recv(10s);
  p.join();
  auto f = actors::detail::decode<actors::mutex>(bytes);
  try {
    f.acquire(true, 5s);
    ADD_FAILURE() << "a far acquire from a gone lender returned";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::eof) << e.what();
    EXPECT_NE(std::string(e.what()).find("lent this lock"), std::string::npos) << e.what();
  }
}
