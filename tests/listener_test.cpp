#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using actors::connection;
using actors::errc;
using actors::listener;
using actors::process;
using actors::start_method;
using test_util::error_of;

namespace {

// -- targets ---------------------------------------------------------------------

// Connects with `key`, says its id, then echoes one number doubled.
void greet_and_double(std::string address, std::string key, int id) {
  auto c = actors::client<int>(address, key, 10s);
  c.send(id);
  c.send(2 * c.recv(10s));
}

// The listener's half of greet_and_double: returns the client's id after
// checking that it doubles a number.
int hear_greeting(connection<int>& c) {
  int id = c.recv(10s);
  c.send(id + 100);
  EXPECT_EQ(c.recv(10s), 2 * (id + 100));
  return id;
}

// Connects without a key and echoes strings until the listener closes.
void echo_without_key(std::string address) {
  auto c = actors::client<std::string>(address);
  try {
    for (;;)
      c.send("echo:" + c.recv());
  } catch (const actors::eof_error&) {
  }
}

// Exit codes that tell the parent what a client saw.
constexpr int saw_auth_failed = 7;
constexpr int saw_something_else = 8;
constexpr int saw_nothing = 9;

// Connects with `key`, expecting the listener to refuse it.
void expect_refusal(std::string address, std::string key) {
  try {
    auto c = actors::client<int>(address, key, 10s);
  } catch (const actors::authentication_error& e) {
    throw actors::system_exit(e.value() == errc::auth_failed ? saw_auth_failed
                                                               : saw_something_else);
  } catch (...) {
    throw actors::system_exit(saw_something_else);
  }
  throw actors::system_exit(saw_nothing);
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

class listener_each_method : public ::testing::TestWithParam<start_method> {};

} // namespace

TEST_P(listener_each_method, a_child_with_the_key_connects_and_talks) {
  listener<int> server("", "secret");
  process p(greet_and_double, server.address(), std::string("secret"), 5);
  p.method(GetParam()).start();
  auto c = server.accept(10s);
  EXPECT_EQ(hear_greeting(c), 5);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_THROW(c.recv(10s), actors::eof_error); // the client's process is gone
}

INSTANTIATE_TEST_SUITE_P(listener, listener_each_method, test_util::all_start_methods(),
                         test_util::method_name);

TEST(listener, a_wrong_key_fails_both_ends_and_the_listener_goes_on) {
  listener<int> server("", "secret");
  process wrong(expect_refusal, server.address(), std::string("guess"));
  wrong.start();
  try {
    (void) server.accept(10s);
    ADD_FAILURE() << "accept() took a client with the wrong key";
  } catch (const actors::authentication_error& e) {
    EXPECT_EQ(e.value(), errc::auth_failed);
    EXPECT_NE(std::string(e.what()).find("different authkey"), std::string::npos) << e.what();
  }
  wrong.join();
  EXPECT_EQ(wrong.exitcode(), saw_auth_failed);

  process right(greet_and_double, server.address(), std::string("secret"), 1);
  right.start();
  auto c = server.accept(10s);
  EXPECT_EQ(hear_greeting(c), 1);
  right.join();
  EXPECT_EQ(right.exitcode(), 0);
}

TEST(listener, a_client_with_a_key_refuses_a_listener_without_one) {
  listener<int> server; // no key: the first thing the client sees is data
  process p(expect_refusal, server.address(), std::string("secret"));
  p.start();
  auto c = server.accept(10s);
  c.send(1);
  p.join();
  EXPECT_EQ(p.exitcode(), saw_auth_failed);
}

TEST(listener, without_a_key_any_client_of_this_user_connects) {
  listener<std::string> server;
  process p(echo_without_key, server.address());
  p.start();
  auto c = server.accept(10s);
  for (int i = 0; i < 20; ++i) {
    c.send(std::to_string(i));
    ASSERT_EQ(c.recv(10s), "echo:" + std::to_string(i));
  }
  c.close(); // the child sees EOF and ends
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(listener, several_clients_each_accepted_once) {
  listener<int> server("", "k");
  std::vector<process> clients;
  for (int id = 0; id < 4; ++id)
    clients.emplace_back(greet_and_double, server.address(), std::string("k"), id);
  for (auto& p : clients)
    p.start();
  std::set<int> ids;
  for (int i = 0; i < 4; ++i) {
    auto c = server.accept(10s);
    ids.insert(hear_greeting(c));
  }
  EXPECT_EQ(ids, (std::set<int>{0, 1, 2, 3}));
  for (auto& p : clients) {
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
  }
}

TEST(listener, accept_timeouts) {
  listener<int> server("", "k");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(server.try_accept());
  EXPECT_FALSE(server.try_accept(50ms));
  EXPECT_THROW(server.accept(100ms), actors::timeout_error);
  EXPECT_GE(test_util::seconds_since(t0), 0.14);
  EXPECT_LT(test_util::seconds_since(t0), 5.0);
}

TEST(listener, a_client_that_never_answers_the_challenge_cannot_hold_accept) {
  listener<int> server("", "k");
  // Connects and stays silent.
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", server.address().c_str());
  ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(server.try_accept(200ms));
  EXPECT_LT(test_util::seconds_since(t0), 5.0);
  ::close(s);
}

TEST(listener, close_wakes_a_blocked_accept_and_removes_the_socket) {
  listener<int> server("", "k");
  auto path = server.address();
  EXPECT_TRUE(is_socket(path));
  std::atomic<bool> waiting{false};
  actors::errc seen = errc::none;
  std::thread acceptor([&] {
    waiting = true;
    seen = error_of([&] { (void) server.accept(); });
  });
  while (!waiting)
    std::this_thread::yield();
  server.close();
  acceptor.join();
  EXPECT_EQ(seen, errc::closed);
  EXPECT_TRUE(server.closed());
  EXPECT_FALSE(is_socket(path));
  EXPECT_EQ(error_of([&] { (void) server.fileno(); }), errc::closed);
  server.close(); // idempotent
  EXPECT_EQ(error_of([&] { (void) actors::client<int>(path, std::string("k"), 1s); }),
            errc::system_error);
}

TEST(listener, a_path_of_our_choice) {
  test_util::temp_dir dir;
  auto path = dir.file("server.sock");
  {
    listener<int> server(path);
    EXPECT_EQ(server.address(), path);
    EXPECT_TRUE(is_socket(path));
    EXPECT_GE(server.fileno(), 0);
    // The path is taken while the listener lives.
    EXPECT_EQ(error_of([&] { listener<int> again(path); }), errc::system_error);
    EXPECT_TRUE(actors::wait({server.fileno()}, 10ms).empty());
    auto mine = actors::client<int>(path);
    EXPECT_EQ(actors::wait({server.fileno()}, 10s).size(), 1u); // a client waits
    auto theirs = server.accept(10s);
    mine.send(3);
    EXPECT_EQ(theirs.recv(10s), 3);
  } // the destructor closes and removes the file
  EXPECT_FALSE(is_socket(path));
  EXPECT_EQ(error_of([&] { listener<int> too_long(dir.file(std::string(200, 'x'))); }),
            errc::bad_argument);
  EXPECT_EQ(error_of([&] { (void) actors::client<int>(dir.file("nobody.sock")); }),
            errc::system_error);
}
