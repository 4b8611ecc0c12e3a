// Futures without a pool: states are filled in by hand, so these tests need
// no processes and no timing.

#include "test_util.hpp"

#include <actors/future.hpp>
#include <actors/future_source.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using actors::errc;
using test_util::error_of;

namespace {

// A future and the state a pool would fill in.
struct settable {
  std::shared_ptr<actors::detail::result_state<int>> state =
    std::make_shared<actors::detail::result_state<int>>();
  actors::future<int> future{state};
};

} // namespace

// As Python's as_completed(fs), which takes set(fs): a future given several
// times (copies share its state) is yielded once.
TEST(future, as_completed_yields_a_repeated_future_once) {
  settable a, b;
  a.state->set(1);
  b.state->set(2);
  std::vector<actors::future<int>> fs{a.future, a.future, b.future, actors::future<int>(a.state)};
  std::vector<int> got;
  for (auto& f : actors::as_completed(fs, 1s))
    got.push_back(f.result());
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

TEST(future, as_completed_ends_when_each_distinct_future_ended) {
  settable a, b;
  actors::as_completed<int> stream({a.future, b.future, a.future}, 1s);
  b.state->set(2);
  auto first = stream.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->result(), 2);
  a.state->set(1);
  auto second = stream.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->result(), 1);
  EXPECT_FALSE(stream.next()); // a's second copy is not waited for
}

// wait() returns sets in Python: each future once, in done or in not_done.
TEST(future, wait_lists_a_repeated_future_once) {
  settable a, b;
  a.state->set(1);
  auto r = actors::wait(std::vector<actors::future<int>>{a.future, b.future, a.future, b.future},
                        actors::return_when::first_completed, 1s);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0], a.future);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_EQ(r.not_done[0], b.future);
}

// -- future_source: a future completed by hand (Python's Future used directly) --

TEST(future_source, set_result_from_another_thread_wakes_get_and_runs_callbacks) {
  actors::future_source<int> src;
  auto f = src.get_future();
  EXPECT_FALSE(f.done());
  EXPECT_EQ(error_of([&] { f.get(10ms); }), errc::timeout);
  std::atomic<int> seen{0};
  f.add_done_callback([&](const actors::future<int>& done) { seen = done.result(); });
  std::thread producer([src]() mutable {
    if (src.set_running_or_notify_cancel())
      src.set_result(42);
  });
  EXPECT_EQ(f.get(10s), 42);
  EXPECT_EQ(seen.load(), 42); // callbacks have run by the time get() returns
  EXPECT_TRUE(f.successful());
  EXPECT_EQ(f.exception(), nullptr);
  producer.join();
}

TEST(future_source, set_exception_keeps_the_exception_type) {
  actors::future_source<std::string> a, b;
  a.set_exception(actors::error(errc::key_error, "no such key"));
  b.set_exception(std::make_exception_ptr(std::invalid_argument("bad input")));
  EXPECT_EQ(error_of([&] { a.get_future().get(1s); }), errc::key_error);
  EXPECT_THROW(b.get_future().result(1s), std::invalid_argument);
  EXPECT_FALSE(b.get_future().successful());
  EXPECT_NE(b.get_future().exception(1s), nullptr);
  EXPECT_EQ(error_of([&] { b.set_exception(std::exception_ptr()); }), errc::bad_argument);
}

TEST(future_source, a_cancelled_future_is_not_started) {
  actors::future_source<int> src;
  auto f = src.get_future();
  int callbacks = 0;
  f.add_done_callback([&](const actors::future<int>&) { ++callbacks; });
  EXPECT_TRUE(f.cancel());
  EXPECT_EQ(callbacks, 1);
  EXPECT_FALSE(src.set_running_or_notify_cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(error_of([&] { f.result(1s); }), errc::cancelled);
  try {
    src.set_result(1);
    ADD_FAILURE() << "set_result on a cancelled future did not throw";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_argument);
    EXPECT_NE(std::string(e.what()).find("was cancelled"), std::string::npos) << e.what();
  }
}

TEST(future_source, a_running_future_cannot_be_cancelled) {
  actors::future_source<int> src;
  auto f = src.get_future();
  EXPECT_TRUE(src.set_running_or_notify_cancel());
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  src.set_result(7);
  EXPECT_EQ(f.result(1s), 7);
}

// Python raises InvalidStateError (set twice) and RuntimeError (started twice).
TEST(future_source, setting_twice_is_a_bad_argument_that_changes_nothing) {
  actors::future_source<int> src;
  auto f = src.get_future();
  src.set_result(1);
  EXPECT_EQ(error_of([&] { src.set_result(2); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { src.set_exception(actors::error(errc::closed, "x")); }),
            errc::bad_argument);
  EXPECT_EQ(error_of([&] { src.set_running_or_notify_cancel(); }), errc::bad_argument);
  EXPECT_EQ(f.result(), 1);

  actors::future_source<int> running;
  EXPECT_TRUE(running.set_running_or_notify_cancel());
  try {
    running.set_running_or_notify_cancel();
    ADD_FAILURE() << "a second set_running_or_notify_cancel did not throw";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_argument);
    EXPECT_NE(std::string(e.what()).find("running already"), std::string::npos) << e.what();
  }
}

TEST(future_source, wait_and_as_completed_see_hand_set_futures) {
  actors::future_source<int> a, b, c;
  std::vector<actors::future<int>> fs{a.get_future(), b.get_future(), c.get_future()};
  std::thread producer([b, c]() mutable {
    c.set_result(3);
    b.set_exception(actors::error(errc::remote_error, "failed"));
  });
  auto r = actors::wait(fs, actors::return_when::first_exception, 10s);
  producer.join();
  EXPECT_EQ(r.done.size(), 2u);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_EQ(r.not_done[0], fs[0]);
  actors::as_completed<int> stream(fs, 1s);
  a.set_result(1);
  std::vector<int> order;
  for (auto& f : stream)
    order.push_back(f.successful() ? f.result() : -1);
  EXPECT_EQ(order, (std::vector<int>{-1, 3, 1})); // those done first, in fs's order
}

TEST(future_source, dropping_an_unset_source_fails_its_future) {
  actors::future<int> f;
  {
    actors::future_source<int> src;
    f = src.get_future();
    auto copy = src; // copies share the future: only the last one counts
  }
  EXPECT_EQ(error_of([&] { f.get(1s); }), errc::broken_pipe);
}

TEST(future_source, void_future) {
  actors::future_source<void> src;
  auto f = src.get_future();
  src.set_result();
  f.get(1s);
  EXPECT_TRUE(f.successful());
}

// Python's repr of a Future: its state, and a failure's message.
TEST(future, prints_its_state) {
  auto printed = [](const actors::future<int>& f) {
    std::ostringstream out;
    out << f;
    return out.str();
  };
  EXPECT_EQ(printed(actors::future<int>()), "<actors::future invalid>");
  actors::future_source<int> a, b, c;
  EXPECT_EQ(printed(a.get_future()), "<actors::future pending>");
  a.set_running_or_notify_cancel();
  EXPECT_EQ(printed(a.get_future()), "<actors::future running>");
  a.set_result(1);
  EXPECT_EQ(printed(a.get_future()), "<actors::future finished>");
  b.set_exception(actors::error(errc::closed, "the pool was terminated"));
  EXPECT_EQ(printed(b.get_future()), "<actors::future failed: the pool was terminated>");
  c.get_future().cancel();
  EXPECT_EQ(printed(c.get_future()), "<actors::future cancelled>");
}
