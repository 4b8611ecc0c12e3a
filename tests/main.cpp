// Test driver: one node for the test process, and a time limit on every test.
// A test that overruns its limit fails with its own name instead of hanging
// CI (the idea of SObjectizer's run_with_time_limit, applied to all tests).

#include <actors/node.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <unistd.h>

namespace {

constexpr unsigned time_limit_seconds = 60;
char current_test[256] = "?";

extern "C" void on_alarm(int) {
  const char head[] = "\nFAILED: test ";
  const char tail[] = " exceeded its time limit\n";
  (void) !::write(STDERR_FILENO, head, sizeof head - 1);
  (void) !::write(STDERR_FILENO, current_test, std::strlen(current_test));
  (void) !::write(STDERR_FILENO, tail, sizeof tail - 1);
  _exit(124);
}

class time_limit : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo& info) override {
    std::snprintf(current_test, sizeof current_test, "%s.%s", info.test_suite_name(),
                  info.name());
    ::alarm(time_limit_seconds);
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    ::alarm(0);
  }
};

} // namespace

int main(int argc, char** argv) {
  actors::node node; // first: spawned children take over here
  ::signal(SIGALRM, on_alarm);
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::UnitTest::GetInstance()->listeners().Append(new time_limit);
  return RUN_ALL_TESTS();
}
