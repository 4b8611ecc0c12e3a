#include <actors/errors.hpp>

#include <gtest/gtest.h>

#include <set>

TEST(errors, codes_convert_to_std_error_code) {
  std::error_code ec = actors::errc::timeout;
  EXPECT_EQ(ec.category().name(), std::string("actors"));
  EXPECT_EQ(ec.message(), "timed out");
  EXPECT_EQ(ec, actors::errc::timeout);
}

TEST(errors, every_code_has_its_own_message) {
  std::set<std::string> seen;
  for (int i = 0; i <= static_cast<int>(actors::errc::host_unreachable); ++i) {
    auto msg = actors::make_error_code(static_cast<actors::errc>(i)).message();
    EXPECT_EQ(msg.find("unknown"), std::string::npos) << i;
    EXPECT_TRUE(seen.insert(msg).second) << "duplicate message " << msg;
  }
}

TEST(errors, exceptions_carry_their_code) {
  try {
    throw actors::timeout_error("waited 1s");
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), actors::errc::timeout);
    EXPECT_EQ(e.code(), actors::errc::timeout);
    EXPECT_STREQ(e.what(), "waited 1s");
  }
}
