// actors::future_source<T> (future_source.hpp): a future completed by hand
// (Python's Future used directly): set_result, set_exception,
// set_running_or_notify_cancel, the errors of setting a future that ended,
// and what happens when the last source goes away. No processes, no timing.

#include "test_util.hpp"

#include <actors/future.hpp>
#include <actors/future_source.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using actors::errc;
using test_util::error_of;

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

// -- the contract, beyond what the tests above cover ------------------------------

namespace {

// The message of the actors::error `f` throws; empty if none.
template <class F>
std::string bad_argument_message(F&& f) {
  try {
    f();
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_argument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

} // namespace

// Callbacks run in the thread that ends the future: the setter's thread for
// set_result() and set_exception(), the canceller's for cancel().
TEST(future_source, callbacks_run_in_the_thread_that_ends_the_future) {
  actors::future_source<int> src;
  std::thread::id ran_in;
  src.get_future().add_done_callback([&](const actors::future<int>&) {
    ran_in = std::this_thread::get_id();
  });
  std::thread::id setter;
  std::thread t([src, &setter]() mutable {
    setter = std::this_thread::get_id();
    src.set_result(1);
  });
  t.join();
  EXPECT_EQ(ran_in, setter);
  EXPECT_NE(ran_in, std::this_thread::get_id());

  actors::future_source<int> failing;
  std::thread::id failed_in;
  failing.get_future().add_done_callback([&](const actors::future<int>&) {
    failed_in = std::this_thread::get_id();
  });
  std::thread::id failer;
  std::thread u([failing, &failer]() mutable {
    failer = std::this_thread::get_id();
    failing.set_exception(std::runtime_error("failed"));
  });
  u.join();
  EXPECT_EQ(failed_in, failer);

  actors::future_source<int> cancelled;
  std::thread::id cancelled_in;
  cancelled.get_future().add_done_callback([&](const actors::future<int>&) {
    cancelled_in = std::this_thread::get_id();
  });
  std::thread v([cancelled]() { EXPECT_TRUE(cancelled.get_future().cancel()); });
  auto canceller = v.get_id();
  v.join();
  EXPECT_EQ(cancelled_in, canceller);
}

// After cancel(), set_exception() is refused as set_result() is, with a
// message that says why, and the future stays cancelled; after a result,
// the message says the future has finished.
TEST(future_source, setting_a_cancelled_or_finished_future_says_which) {
  actors::future_source<int> src;
  auto f = src.get_future();
  ASSERT_TRUE(f.cancel());
  auto m = bad_argument_message([&] { src.set_exception(std::runtime_error("late")); });
  EXPECT_NE(m.find("was cancelled"), std::string::npos) << m;
  EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(error_of([&] { f.result(1s); }), errc::cancelled);

  actors::future_source<int> done;
  done.set_exception(std::runtime_error("first"));
  m = bad_argument_message([&] { done.set_result(2); });
  EXPECT_NE(m.find("has finished already"), std::string::npos) << m;
  m = bad_argument_message([&] { done.set_exception(std::runtime_error("second")); });
  EXPECT_NE(m.find("has finished already"), std::string::npos) << m;
  try {
    done.get_future().result(1s);
    ADD_FAILURE() << "the first exception is gone";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
}

// The last copy going away fails a running future too; a future that was
// set keeps its value.
TEST(future_source, dropping_the_last_source_fails_only_an_unfinished_future) {
  actors::future<int> running, set;
  {
    actors::future_source<int> a, b;
    running = a.get_future();
    set = b.get_future();
    ASSERT_TRUE(a.set_running_or_notify_cancel());
    b.set_result(5);
  }
  try {
    running.get(1s);
    ADD_FAILURE() << "a running future outlived its source";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::broken_pipe);
    EXPECT_NE(std::string(e.what()).find("future_source was destroyed"), std::string::npos)
      << e.what();
  }
  EXPECT_EQ(set.get(1s), 5);
}

// get_future() always hands out the same future; any copy of the source
// sets it.
TEST(future_source, every_get_future_and_every_copy_share_one_future) {
  actors::future_source<std::string> src;
  auto copy = src;
  auto f = src.get_future();
  auto g = copy.get_future();
  EXPECT_EQ(f, g);
  copy.set_result("shared");
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), "shared");
  EXPECT_EQ(error_of([&] { src.set_result("again"); }), errc::bad_argument);
}

// Any exception may be set, and wait(first_exception) counts it.
TEST(future_source, any_exception_counts_for_wait_first_exception) {
  actors::future_source<int> ok, failing, pending;
  ok.set_result(1);
  failing.set_exception(std::out_of_range("index 9"));
  std::vector<actors::future<int>> fs{pending.get_future(), ok.get_future(),
                                      failing.get_future()};
  auto r = actors::wait(fs, actors::return_when::first_exception, 5s);
  EXPECT_EQ(r.done.size(), 2u);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_EQ(r.not_done[0], fs[0]);
  EXPECT_THROW(fs[2].result(), std::out_of_range);
  EXPECT_NE(fs[2].exception(), nullptr);
}
