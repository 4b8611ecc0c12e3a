// progress.hpp: what a map's progress callback receives, and
// actors::progress_bar() that draws it.

#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace {

using namespace std::chrono_literals;

int square(int x) {
  return x * x;
}

int slow_square(int x) {
  std::this_thread::sleep_for(2ms);
  return x * x;
}

TEST(progress, the_callback_sees_every_item) {
  actors::pool pool(2);
  std::vector<actors::progress_info> seen;
  std::vector<int> xs(1000, 2);
  pool.map(square, xs,
           actors::task_options().chunksize(10).progress(
             [&](const actors::progress_info& p) { seen.push_back(p); }));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().done, 1000u);
  EXPECT_EQ(seen.back().total, 1000u);
  EXPECT_GE(seen.back().rate, 0.0);
}

// At most 10 calls a second and one at the end; done never goes back.
TEST(progress, calls_are_rate_limited_and_done_only_grows) {
  actors::pool pool(2);
  std::vector<actors::progress_info> seen;
  std::vector<int> xs(300, 3); // 300 x 2 ms over 2 workers: about 0.3 s
  auto t0 = std::chrono::steady_clock::now();
  pool.map(slow_square, xs,
           actors::task_options().chunksize(1).progress(
             [&](const actors::progress_info& p) { seen.push_back(p); }));
  double took = test_util::seconds_since(t0);
  ASSERT_FALSE(seen.empty());
  EXPECT_LE(static_cast<double>(seen.size()), took * 10 + 2);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GE(seen[i].done, seen[i - 1].done);
    EXPECT_GE(seen[i].elapsed, seen[i - 1].elapsed);
  }
  EXPECT_EQ(seen.back().done, 300u);
  EXPECT_TRUE(seen.back().eta == 0 || seen.back().eta == -1) << seen.back().eta;
}

TEST(progress, the_bar_draws_done_total_and_eta) {
  test_util::temp_dir dir;
  auto path = dir.file("bar");
  {
    test_util::capture_stderr capture(path);
    actors::progress_bar()({50, 100, 1.0, 50.0, 1.0});
    actors::progress_bar()({100, 100, 2.0, 50.0, 0.0});
  }
  auto text = test_util::read_file(path);
  EXPECT_NE(text.find("50/100"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA 1s"), std::string::npos) << text;
  EXPECT_NE(text.find("100/100"), std::string::npos) << text;
}

} // namespace
