// Futures without a pool: states are filled in by hand, so these tests need
// no processes and no timing.

#include "test_util.hpp"

#include <actors/future.hpp>
#include <actors/future_source.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <stdexcept>
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
