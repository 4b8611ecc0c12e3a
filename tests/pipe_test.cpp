#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include "io/frame.hpp"

#include <array>
#include <csignal>
#include <fcntl.h>
#include <random>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using actors::connection;
using actors::errc;
using actors::process;
using actors::start_method;
using test_util::error_of;

namespace {


// -- targets ---------------------------------------------------------------------

void send_square(connection<int> out, int n) {
  out.send(n * n);
}

void echo_until_eof(connection<std::string> c) {
  try {
    for (;;)
      c.send("echo:" + c.recv());
  } catch (const actors::eof_error&) {
  }
}

void block_forever(connection<int> c) {
  (void) c.recv(); // nothing will come; the test kills us
}

// Receives a pipe end through another pipe and answers on it.
void answer_on_received_end(connection<connection<int>> carrier) {
  auto end = carrier.recv();
  end.send(42);
}

// Sends bytes 2..5 of "0123456789" with send_bytes(buffer, offset, size).
void send_slice(connection<int> out) {
  out.send_bytes("0123456789", 2, 4);
  out.send_bytes("0123456789", 7);
}

// A word-wise checksum: fast enough for 1 GiB in a sanitizer build.
std::uint64_t checksum(const void* data, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  for (; i < n; ++i)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// Sends 1 GiB twice, as raw bytes and as an encoded vector, then its checksum.
void send_gigabyte(connection<std::vector<std::uint8_t>> out) {
  std::vector<std::uint8_t> data(std::size_t{1} << 30);
  std::uint64_t x = 88172645463325252ull;
  for (std::size_t i = 0; i < data.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(data.data() + i, &x, 8);
  }
  auto sum = checksum(data.data(), data.size());
  out.send_bytes({reinterpret_cast<const char*>(data.data()), data.size()});
  out.send(data);
  data = {};
  out.send(std::vector<std::uint8_t>(reinterpret_cast<std::uint8_t*>(&sum),
                                     reinterpret_cast<std::uint8_t*>(&sum) + 8));
}

// Sends messages around a maxlength of 10 bytes, and one of 4 MiB.
void send_around_a_limit(connection<int> out) {
  out.send_bytes("0123456789A"); // 11: one too many
  out.send_bytes("0123456789");  // 10: fits exactly
  out.send_bytes(std::string(4 << 20, 'x'));
  out.send_bytes("after");
}

class pipe_each_method : public ::testing::TestWithParam<start_method> {};


} // namespace

TEST(pipe, round_trip_in_one_process) {
  auto [a, b] = actors::pipe<std::vector<std::string>>();
  a.send({"x", "yz"});
  EXPECT_EQ(b.recv(), (std::vector<std::string>{"x", "yz"}));
  b.send({});
  EXPECT_TRUE(a.poll(1s));
  EXPECT_TRUE(a.recv().empty());
  EXPECT_FALSE(a.poll());
}

TEST_P(pipe_each_method, child_sends_its_result_to_the_parent) {
  auto [parent_end, child_end] = actors::pipe<int>();
  process p(send_square, child_end, 12);
  p.method(GetParam()).start();
  child_end.close(); // ours; the child holds its own copy
  EXPECT_EQ(parent_end.recv(5s), 144);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  // The child exited and no other copy of its end exists: EOF, not a hang.
  EXPECT_THROW(parent_end.recv(5s), actors::eof_error);
}

// With fork, the child inherits every descriptor, the parent's end included;
// libactors closes inherited ends there, so the child still sees EOF.
TEST_P(pipe_each_method, duplex_conversation_until_eof) {
  auto [mine, theirs] = actors::pipe<std::string>();
  process p(echo_until_eof, theirs);
  p.method(GetParam()).start();
  theirs.close();
  for (int i = 0; i < 100; ++i) {
    mine.send(std::to_string(i));
    ASSERT_EQ(mine.recv(5s), "echo:" + std::to_string(i));
  }
  mine.close();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

INSTANTIATE_TEST_SUITE_P(pipe, pipe_each_method,
                         test_util::all_start_methods(), test_util::method_name);

TEST(pipe, a_killed_peer_gives_eof_not_a_hang) {
  auto [mine, theirs] = actors::pipe<int>();
  process p(block_forever, theirs);
  p.start();
  theirs.close();
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    p.kill();
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(mine.recv(), actors::eof_error);
  EXPECT_LT(test_util::seconds_since(t0), 5.0);
  killer.join();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_EQ(error_of([&] { mine.send(1); }), errc::broken_pipe);
}

TEST(pipe, recv_timeout_and_poll) {
  auto [a, b] = actors::pipe<int>();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(a.recv(100ms), actors::timeout_error);
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  EXPECT_FALSE(a.try_recv(10ms));
  EXPECT_FALSE(a.poll(0ms));
  b.send(7);
  EXPECT_TRUE(a.poll(1s));
  EXPECT_EQ(a.try_recv(), 7);
  EXPECT_EQ(actors::wait({a}, 10ms).size(), 0u);
}

TEST(pipe, timeouts_hold_while_signals_keep_interrupting) {
  // Each EINTR used to restart the receive's slice, so a signal every 50 ms
  // stretched a 300 ms timeout to seconds, and one every 0.5 ms made it
  // endless.
  auto [a, b] = actors::pipe<int>();
  for (auto every : {50'000us, 500us}) {
    test_util::signal_storm storm(every);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(a.try_recv(300ms));
    EXPECT_LT(test_util::seconds_since(t0), 1.0) << "signal every " << every.count() << " us";
    t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(a.recv(200ms), actors::timeout_error);
    EXPECT_LT(test_util::seconds_since(t0), 1.0);
    t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(a.poll(200ms));
    EXPECT_LT(test_util::seconds_since(t0), 1.0);
  }
  b.send(7); // and the pipe still works
  EXPECT_EQ(a.recv(1s), 7);
}

// Writes through a descriptor its parent sent, then says so.
void write_through_handle(connection<int> c) {
  int fd = c.recv_handle(10s);
  const char text[] = "written by the child";
  bool ok = ::write(fd, text, sizeof text - 1) == static_cast<ssize_t>(sizeof text - 1);
  ::close(fd);
  c.send(ok ? 1 : 0);
}

TEST(pipe, a_descriptor_crosses_with_send_handle) {
  test_util::temp_dir dir;
  auto [a, b] = actors::pipe<int>();
  process p(write_through_handle, b);
  p.start();
  b.close();
  int fd = ::open(dir.file("f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  a.send_handle(fd);
  ::close(fd); // the child has its own copy
  EXPECT_EQ(a.recv(10s), 1);
  p.join();
  EXPECT_EQ(test_util::read_file(dir.file("f")), "written by the child");
  EXPECT_EQ(error_of([&] { a.send_handle(-1); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { a.send_handle(4000); }), errc::bad_argument);
}

TEST(pipe, recv_handle_of_an_ordinary_message_is_a_bad_payload) {
  auto [a, b] = actors::pipe<int>();
  b.send(5);
  EXPECT_EQ(error_of([&] { a.recv_handle(1s); }), errc::bad_payload);
  EXPECT_THROW(a.recv_handle(10ms), actors::timeout_error);
  b.send_handle(0);
  EXPECT_EQ(a.recv_bytes(1s), ""); // recv_bytes drops the descriptor it did not ask for
  b.send(6);
  EXPECT_EQ(a.recv(1s), 6);
}

TEST(pipe, one_way_pipe_refuses_the_wrong_direction) {
  auto [reader, writer] = actors::pipe<int>(false);
  EXPECT_TRUE(reader.readable());
  EXPECT_FALSE(reader.writable());
  EXPECT_EQ(error_of([&] { reader.send(1); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { (void) writer.recv(1ms); }), errc::bad_argument);
  writer.send(5);
  EXPECT_EQ(reader.recv(), 5);
}

TEST(pipe, bytes_travel_as_they_are) {
  auto [a, b] = actors::pipe<int>();
  std::string raw("\0\1\2xyz", 6);
  a.send_bytes(raw);
  EXPECT_EQ(b.recv_bytes(1s), raw);
  a.send(3);
  EXPECT_EQ(b.recv_bytes(1s).size(), sizeof(int)); // an encoded int, as bytes
}

// Python's send_bytes(buf, offset, size) and recv_bytes_into(buf, offset).
TEST(pipe, byte_ranges_cross_processes) {
  auto [mine, theirs] = actors::pipe<int>();
  process p(send_slice, theirs);
  p.start();
  theirs.close();
  std::vector<char> buffer(8, '.');
  EXPECT_EQ(mine.recv_bytes_into(buffer, 1, 10s), 4u);
  EXPECT_EQ(std::string(buffer.begin(), buffer.end()), ".2345...");
  std::array<std::uint8_t, 3> exact{};
  EXPECT_EQ(mine.recv_bytes_into(exact, 0, 10s), 3u);
  EXPECT_EQ(exact, (std::array<std::uint8_t, 3>{'7', '8', '9'}));
  ASSERT_TRUE(p.join(10s));
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(pipe, send_bytes_range_past_the_end_is_a_bad_argument) {
  auto [a, b] = actors::pipe<int>();
  EXPECT_EQ(error_of([&] { a.send_bytes("abc", 4); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { a.send_bytes("abc", 1, 3); }), errc::bad_argument);
  EXPECT_FALSE(b.poll()); // nothing was sent
  a.send_bytes("abc", 3); // an empty message, as Python sends
  EXPECT_EQ(b.recv_bytes(1s), "");
  a.send_bytes("abc", 1, 2);
  EXPECT_EQ(b.recv_bytes(1s), "bc");
}

TEST(pipe, recv_bytes_into_a_short_buffer_gives_the_message_in_the_error) {
  auto [a, b] = actors::pipe<int>();
  a.send_bytes("hello world");
  char small[8] = {};
  try {
    b.recv_bytes_into(small, 2, 1s);
    ADD_FAILURE() << "no buffer_too_short";
  } catch (const actors::buffer_too_short& e) {
    EXPECT_EQ(e.value(), errc::buffer_too_short);
    EXPECT_EQ(e.bytes(), "hello world");
    EXPECT_NE(std::string(e.what()).find("11-byte message does not fit the 6 bytes after offset 2"),
              std::string::npos)
      << e.what();
  }
  EXPECT_FALSE(b.poll()); // the message was consumed, as in Python
  EXPECT_EQ(error_of([&] { b.recv_bytes_into(small, 9, 1s); }), errc::bad_argument);
  EXPECT_EQ(error_of([&] { b.recv_bytes_into(small, 0, 10ms); }), errc::timeout);
  a.send_bytes("12345678");
  EXPECT_EQ(b.recv_bytes_into(small, 0, 1s), 8u); // fits exactly
  EXPECT_EQ(std::string(small, 8), "12345678");
}

// Python's recv_bytes(maxlength) raises OSError and leaves the connection
// unreadable; here the long message is dropped unread and the next follows.
TEST(pipe, recv_bytes_with_maxlength_drops_a_longer_message_and_goes_on) {
  auto [mine, theirs] = actors::pipe<int>();
  process p(send_around_a_limit, theirs);
  p.start();
  theirs.close();
  try {
    (void) mine.recv_bytes(10, 10s);
    ADD_FAILURE() << "an 11-byte message passed maxlength 10";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::message_too_long);
    EXPECT_NE(std::string(e.what()).find("11-byte message is longer than maxlength 10"),
              std::string::npos)
      << e.what();
  }
  EXPECT_EQ(mine.recv_bytes(10, 10s), "0123456789");
  EXPECT_EQ(error_of([&] { (void) mine.recv_bytes(1000, 10s); }), errc::message_too_long);
  EXPECT_EQ(mine.recv_bytes(10, 10s), "after");
  ASSERT_TRUE(p.join(10s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(error_of([&] { (void) mine.recv_bytes(10, 10s); }), errc::eof);
}

TEST(pipe, closed_end_refuses_work_and_peer_sees_eof) {
  auto [a, b] = actors::pipe<int>();
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(error_of([&] { a.send(1); }), errc::closed);
  EXPECT_EQ(error_of([&] { (void) a.fileno(); }), errc::closed);
  EXPECT_THROW(b.recv(1s), actors::eof_error);
  connection<int> unconnected;
  EXPECT_EQ(error_of([&] { unconnected.send(1); }), errc::closed);
}

TEST(pipe, close_wakes_a_blocked_receiver) {
  auto [a, b] = actors::pipe<int>();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    a.close();
  });
  EXPECT_EQ(error_of([&] { (void) a.recv(); }), errc::closed);
  t.join();
}

TEST(pipe, an_end_sent_through_a_pipe_reaches_another_process) {
  auto [carrier_mine, carrier_theirs] = actors::pipe<connection<int>>();
  process p(answer_on_received_end, carrier_theirs);
  p.start();
  auto [answer_mine, answer_theirs] = actors::pipe<int>();
  carrier_mine.send(answer_theirs);
  answer_theirs.close();
  EXPECT_EQ(answer_mine.recv(5s), 42);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(pipe, oversized_message_is_refused_and_the_connection_stays_usable) {
  auto saved = actors::max_frame_size();
  actors::set_max_frame_size(64 * 1024);
  auto [a, b] = actors::pipe<std::string>();
  try {
    a.send(std::string(100'000, 'x'));
    ADD_FAILURE() << "expected frame_too_large";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::frame_too_large);
    EXPECT_NE(std::string(e.what()).find("set_max_frame_size"), std::string::npos);
  }
  a.send("small");
  EXPECT_EQ(b.recv(1s), "small");
  actors::set_max_frame_size(saved);
  EXPECT_EQ(error_of([] { actors::set_max_frame_size(1); }), errc::bad_argument);
}

// Raw bytes written straight into a connection's socket, as a broken or
// hostile peer would.
class raw_peer : public ::testing::Test {
protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    conn = connection<std::string>(std::make_shared<actors::detail::channel>(fds[0], true, true));
    raw = fds[1];
  }
  void TearDown() override {
    if (raw >= 0)
      ::close(raw);
  }
  void write_raw(const std::string& bytes) {
    ASSERT_EQ(::write(raw, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  static std::string header(std::uint32_t size, std::uint8_t kind = 2, std::uint16_t fds = 0) {
    char h[8];
    actors::detail::put_header(h, {size, fds, static_cast<actors::detail::frame_kind>(kind)});
    return std::string(h, 8);
  }

  connection<std::string> conn;
  int raw = -1;
};

TEST_F(raw_peer, garbage_closes_only_that_connection) {
  test_util::temp_dir dir;
  test_util::capture_stderr quiet(dir.file("err"));
  auto [x, y] = actors::pipe<int>(); // an unrelated connection
  write_raw("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(error_of([&] { (void) conn.recv(1s); }), errc::bad_frame);
  EXPECT_TRUE(conn.closed());
  x.send(9);
  EXPECT_EQ(y.recv(1s), 9);
}

TEST_F(raw_peer, oversized_header_is_refused_before_allocating) {
  test_util::temp_dir dir;
  test_util::capture_stderr quiet(dir.file("err"));
  write_raw(header(0xF0000000u)); // 3.75 GiB, over the 2 GiB cap
  try {
    (void) conn.recv(1s);
    ADD_FAILURE() << "expected bad_frame";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_frame);
    EXPECT_NE(std::string(e.what()).find("over the cap"), std::string::npos) << e.what();
  }
}

TEST_F(raw_peer, unknown_kind_and_too_many_descriptors_are_bad_frames) {
  test_util::temp_dir dir;
  test_util::capture_stderr quiet(dir.file("err"));
  write_raw(header(1, 99));
  EXPECT_EQ(error_of([&] { (void) conn.recv(1s); }), errc::bad_frame);
  SetUp();
  write_raw(header(1, 2, 500));
  EXPECT_EQ(error_of([&] { (void) conn.recv(1s); }), errc::bad_frame);
}

TEST_F(raw_peer, truncated_frame_from_a_dying_peer_is_eof) {
  write_raw(header(100) + "only ten b");
  ::close(std::exchange(raw, -1));
  try {
    (void) conn.recv(1s);
    ADD_FAILURE() << "expected eof_error";
  } catch (const actors::eof_error& e) {
    EXPECT_NE(std::string(e.what()).find("10 of 100"), std::string::npos) << e.what();
  }
}

TEST_F(raw_peer, payload_with_a_huge_size_prefix_is_a_bad_payload) {
  // A std::string whose size prefix claims 2^60 characters, in a 16-byte frame.
  std::string payload(8, '\0');
  std::uint64_t huge = std::uint64_t{1} << 60;
  std::memcpy(payload.data(), &huge, 8);
  payload += "abcdefgh";
  write_raw(header(static_cast<std::uint32_t>(payload.size())) + payload);
  try {
    (void) conn.recv(1s);
    ADD_FAILURE() << "expected bad_payload";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::bad_payload);
    EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(conn.closed()); // the frame itself was well formed
}

TEST_F(raw_peer, random_garbage_never_crashes_the_decoder) {
  test_util::temp_dir dir;
  test_util::capture_stderr quiet(dir.file("err"));
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    SetUp();
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng());
    if (round % 2) // half of them with a valid header in front
      junk = header(static_cast<std::uint32_t>(junk.size())) + junk;
    write_raw(junk);
    ::close(std::exchange(raw, -1));
    auto e = error_of([&] { (void) conn.recv(1s); });
    EXPECT_TRUE(e == errc::bad_frame || e == errc::eof || e == errc::bad_payload
                || e == errc::none)
      << static_cast<int>(e);
  }
}

TEST(pipe, one_gibibyte_crosses_intact) {
  test_util::allow_seconds(200);
  auto [mine, theirs] = actors::pipe<std::vector<std::uint8_t>>();
  process p(send_gigabyte, theirs);
  p.start();
  theirs.close();
  std::string raw;
  ASSERT_EQ(mine.recv_bytes_into(raw, 150s), std::size_t{1} << 30);
  auto from_bytes = checksum(raw.data(), raw.size());
  raw = std::string();
  auto v = mine.recv(150s);
  ASSERT_EQ(v.size(), std::size_t{1} << 30);
  auto from_vector = checksum(v.data(), v.size());
  v = {};
  auto sum = mine.recv(150s);
  ASSERT_EQ(sum.size(), 8u);
  std::uint64_t sent;
  std::memcpy(&sent, sum.data(), 8);
  EXPECT_EQ(from_bytes, sent);
  EXPECT_EQ(from_vector, sent);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}
