// none.hpp: none_t, Python's None as a result: equal to itself, one byte on
// the wire, and what a map over a void function yields.

#include <actors/all.hpp>
#include <actors/detail/serialize.hpp>

#include <gtest/gtest.h>

namespace {

void touch(int) {}

TEST(none, is_one_byte_on_the_wire_and_decodes_back) {
  auto bytes = actors::detail::encode(actors::none_t{});
  EXPECT_EQ(bytes, std::string(1, '\0'));
  EXPECT_EQ(actors::detail::decode<actors::none_t>(bytes), actors::none_t{});
  EXPECT_FALSE(actors::none_t{} != actors::none_t{});
}

TEST(none, a_map_over_a_void_function_yields_one_per_item) {
  actors::pool pool(1);
  auto out = pool.map(touch, std::vector<int>{1, 2, 3});
  static_assert(std::is_same_v<decltype(out), std::vector<actors::none_t>>);
  EXPECT_EQ(out.size(), 3u);
  pool.terminate();
}

} // namespace
