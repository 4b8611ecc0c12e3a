#include <actors/errors.hpp>
#include <actors/log.hpp>

#include <gtest/gtest.h>

#include <regex>
#include <unistd.h>

namespace {

struct restore_config {
  actors::log::config saved = actors::log::current_config();
  ~restore_config() { actors::log::basic_config(saved); }
};

} // namespace

TEST(log, seed_format_with_datefmt) {
  restore_config restore;
  actors::log::basic_config({"%(asctime)s: %(message)s", "%H:%M:%S"});
  auto line = actors::log::format_line(actors::log::level::info, "Main-Process: started");
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d\d:\d\d:\d\d: Main-Process: started)")))
    << line;
}

TEST(log, default_format_has_time_and_process_name) {
  restore_config restore;
  actors::log::basic_config({});
  auto line = actors::log::format_line(actors::log::level::info, "hi");
  EXPECT_TRUE(std::regex_match(
    line, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[MainProcess\] hi)")))
    << line;
}

TEST(log, all_placeholders) {
  restore_config restore;
  actors::log::basic_config({"%(levelname)s/%(process)d/%(processName)s 100%% %(message)s"});
  EXPECT_EQ(actors::log::format_line(actors::log::level::warning, "x"),
            "WARNING/" + std::to_string(::getpid()) + "/MainProcess 100% x");
}

TEST(log, unknown_placeholder_is_rejected) {
  restore_config restore;
  try {
    actors::log::basic_config({"%(nonsense)s"});
    FAIL() << "expected actors::error";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), actors::errc::bad_argument);
    EXPECT_NE(std::string(e.what()).find("%(nonsense)s"), std::string::npos);
  }
}
