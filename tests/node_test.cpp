// actors::node and the per-process settings of node.hpp: one node per
// process, what its destructor does with daemon and other children,
// node_running() and system(), and the bounds of set_max_frame_size() and
// set_busy_poll(), here and in children.
// (A program without a node: no_node_probe.cpp; the node's thread budget:
// thread_budget_probe.cpp.)

#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using actors::errc;
using actors::process;
using actors::start_method;
using test_util::error_of;

namespace {

void noop() {}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void write_pid(std::string path) {
  test_util::write_file(path, std::to_string(::getpid()));
}

// A child that starts a daemon and a non-daemon grandchild, records their
// pids, and returns: its node must terminate the daemon and join the other.
void daemon_parent(std::string dir) {
  process closed(noop); // joined and closed: must not disturb the node's stop
  closed.start();
  closed.join();
  closed.close();
  process d(sleep_ms, 60'000);
  d.daemon(true);
  d.start();
  process slow(write_pid, dir + "/slow-done");
  slow.start();
  test_util::write_file(dir + "/pids", std::to_string(d.pid()));
}

// True if process `pid` (not our child) exits within `limit`.
bool exits_within(int pid, std::chrono::milliseconds limit) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0)
    return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(limit.count()));
  ::close(fd);
  return r == 1;
}

void report_busy_poll(actors::connection<long> out) {
  out.send(static_cast<long>(actors::busy_poll().count()));
}

void report_max_frame_size(actors::connection<std::uint64_t> out) {
  out.send(actors::max_frame_size());
}

// Whether the child's node runs, and whether system() gives it one actor
// system, from two threads.
void report_node(actors::connection<std::vector<bool>> out) {
  caf::actor_system* other = nullptr;
  std::thread t([&] { other = &actors::system(); });
  t.join();
  out.send({actors::node_running(), other == &actors::system()});
}

constexpr std::size_t two_gib = std::size_t{2} << 30;
constexpr std::size_t four_gib_minus_one = 0xFFFFFFFFu;

} // namespace

TEST(node, a_second_node_is_an_error) {
  EXPECT_EQ(error_of([] { actors::node second; }), errc::node_exists);
}

TEST(node, stop_terminates_daemons_and_joins_the_others) {
  test_util::temp_dir dir;
  process p(daemon_parent, dir.file(""));
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  // The non-daemon grandchild was joined: its file exists now.
  EXPECT_EQ(::access(dir.file("slow-done").c_str(), F_OK), 0);
  int daemon_pid = std::stoi(test_util::read_file(dir.file("pids")));
  EXPECT_TRUE(exits_within(daemon_pid, 2000ms));
}

TEST(node, busy_poll_is_checked_and_children_inherit_it) {
  auto before = actors::busy_poll();
  EXPECT_THROW(actors::set_busy_poll(std::chrono::microseconds(-1)), actors::error);
  EXPECT_THROW(actors::set_busy_poll(std::chrono::microseconds(10'001)), actors::error);
  EXPECT_EQ(actors::busy_poll(), before);
  actors::set_busy_poll(std::chrono::microseconds(7));
  auto [in, out] = actors::pipe<long>(false);
  actors::process p(&report_busy_poll, out);
  p.start();
  EXPECT_EQ(in.try_recv(std::chrono::seconds(10)), std::optional<long>(7));
  p.join();
  actors::set_busy_poll(before);
}

// -- the contract, beyond what the tests above cover ------------------------------

TEST(node, runs_here_and_in_a_child_with_one_actor_system_per_process) {
  EXPECT_TRUE(actors::node_running());
  caf::actor_system* from_thread = nullptr;
  std::thread t([&] { from_thread = &actors::system(); });
  t.join();
  EXPECT_EQ(from_thread, &actors::system());
  auto [in, out] = actors::pipe<std::vector<bool>>(false);
  process p(report_node, out);
  p.start();
  EXPECT_EQ(in.try_recv(10s), std::optional<std::vector<bool>>(std::vector<bool>{true, true}));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// [64, 4 GiB - 1], both ends included; anything else is bad_argument and
// leaves the cap as it was. The default is 2 GiB.
TEST(node, max_frame_size_outside_its_bounds_is_a_bad_argument_that_changes_nothing) {
  auto saved = actors::max_frame_size();
  EXPECT_EQ(saved, two_gib);
  for (std::size_t bad : {std::size_t{0}, std::size_t{63}, four_gib_minus_one + 1}) {
    try {
      actors::set_max_frame_size(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const actors::error& e) {
      EXPECT_EQ(e.value(), errc::bad_argument) << bad;
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
    EXPECT_EQ(actors::max_frame_size(), saved) << bad;
  }
  actors::set_max_frame_size(four_gib_minus_one);
  EXPECT_EQ(actors::max_frame_size(), four_gib_minus_one);
  actors::set_max_frame_size(64);
  EXPECT_EQ(actors::max_frame_size(), 64u);
  actors::set_max_frame_size(saved);
  EXPECT_EQ(actors::max_frame_size(), saved);
}

// Unlike busy_poll, the cap is this process's own: children started after
// set_max_frame_size() have the default.
TEST(node, children_do_not_inherit_max_frame_size) {
  auto saved = actors::max_frame_size();
  actors::set_max_frame_size(1 << 20);
  for (auto m : {start_method::fork, start_method::forkserver, start_method::spawn}) {
#ifdef __SANITIZE_ADDRESS__
    if (m == start_method::fork)
      continue; // fork with running threads under AddressSanitizer: see queue_test.cpp
#endif
    auto [in, out] = actors::pipe<std::uint64_t>(false);
    process p(report_max_frame_size, out);
    p.method(m);
    p.start();
    EXPECT_EQ(in.try_recv(10s), std::optional<std::uint64_t>(two_gib)) << actors::to_string(m);
    p.join();
  }
  EXPECT_EQ(actors::max_frame_size(), std::size_t{1} << 20);
  actors::set_max_frame_size(saved);
}

// [0, 10 ms], both ends included (zero: never busy-poll); outside it
// errc::bad_argument, and the setting stays as it was.
TEST(node, busy_poll_bounds_are_inclusive_and_errors_are_bad_arguments) {
  auto before = actors::busy_poll();
  actors::set_busy_poll(std::chrono::microseconds(0));
  EXPECT_EQ(actors::busy_poll(), std::chrono::microseconds(0));
  actors::set_busy_poll(std::chrono::microseconds(10'000));
  EXPECT_EQ(actors::busy_poll(), std::chrono::microseconds(10'000));
  EXPECT_EQ(error_of([] { actors::set_busy_poll(std::chrono::microseconds(-1)); }),
            errc::bad_argument);
  EXPECT_EQ(error_of([] { actors::set_busy_poll(std::chrono::microseconds(10'001)); }),
            errc::bad_argument);
  EXPECT_EQ(error_of([] { actors::set_busy_poll(std::chrono::seconds(1)); }), errc::bad_argument);
  EXPECT_EQ(actors::busy_poll(), std::chrono::microseconds(10'000));
  actors::set_busy_poll(before);
  EXPECT_EQ(actors::busy_poll(), before);
}
