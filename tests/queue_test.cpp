#include "pool_tasks.hpp"
#include "test_util.hpp"

#include <actors/all.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <numeric>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>

using namespace std::chrono_literals;
using actors::connection;
using actors::errc;
using actors::process;
using actors::start_method;
using test_util::error_of;

namespace {


// -- targets ---------------------------------------------------------------------

// Seed 003: a worker counts to n and puts every number.
void count_to(actors::queue<int> q, int n) {
  for (int i = 1; i <= n; ++i)
    q.put(i);
}

// Puts ids [first, first + n), then returns at once.
void produce(actors::queue<int> q, int first, int n) {
  for (int i = first; i < first + n; ++i)
    q.put(i);
}

// Takes ids until -1 and reports every one it took.
void consume(actors::queue<int> q, connection<std::vector<int>> report) {
  std::vector<int> got;
  for (int v; (v = q.get()) != -1;)
    got.push_back(v);
  report.send(got);
}

// Takes one item, tells the parent which, then waits to be killed.
void take_one_and_hang(actors::queue<int> q, connection<int> report) {
  report.send(q.get());
  std::this_thread::sleep_for(1h);
}

// Takes n items in a stream (so that a pipelined request for the next batch
// is out while it holds the rest of this one), reports the last, and hangs.
void take_n_and_hang(actors::queue<int> q, connection<int> report, int n) {
  int last = -1;
  for (int i = 0; i < n; ++i)
    last = q.get(10s);
  report.send(last);
  std::this_thread::sleep_for(1h);
}

// Puts ids [first, first + n) into a bounded queue, each put waiting for room.
void produce_bounded(actors::queue<int> q, int first, int n) {
  for (int i = first; i < first + n; ++i)
    q.put(i, 30s);
}

// Puts small and big strings, in order: i-th item is i % 3 == 1 ? 1 MiB : 3 bytes.
void put_big_and_small(actors::queue<std::string> q, int n) {
  for (int i = 0; i < n; ++i)
    q.put(std::string(i % 3 == 1 ? (1 << 20) + i : 3, static_cast<char>('a' + i % 26)));
}

// Takes two items (the second request acknowledges the first), marks none
// done, and waits to be killed.
void take_two_and_hang(actors::joinable_queue<int> q, connection<int> report) {
  report.send(q.get() + q.get());
  std::this_thread::sleep_for(1h);
}

void work_and_mark_done(actors::joinable_queue<int> q, int n) {
  for (int i = 0; i < n; ++i) {
    (void) q.get();
    q.task_done();
  }
}

// Receives a queue through a pipe and puts into it.
void put_through_received_queue(connection<actors::queue<std::string>> carrier) {
  auto q = carrier.recv();
  q.put("arrived");
}

std::uint64_t checksum(const std::vector<std::uint8_t>& v) {
  std::uint64_t h = 1469598103934665603ull;
  std::size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, v.data() + i, 8);
    h = (h ^ w) * 1099511628211ull;
  }
  return h;
}

void put_gigabyte(actors::queue<std::vector<std::uint8_t>> q, connection<std::uint64_t> sum) {
  std::vector<std::uint8_t> data(std::size_t{1} << 30);
  std::uint64_t x = 2463534242ull;
  for (std::size_t i = 0; i < data.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(data.data() + i, &x, 8);
  }
  sum.send(checksum(data));
  q.put(data);
}

// Creates a queue (and so its node's socket directory), reports where it
// lives, then waits to be killed.
void own_a_queue(connection<std::string> report) {
  actors::queue<int> q;
  q.put(1);
  // A queue encodes as its address: decode that to learn the socket path.
  report.send(
    actors::detail::decode<actors::detail::queue_address>(actors::detail::encode(q)).path);
  std::this_thread::sleep_for(1h);
}

class queue_each_method : public ::testing::TestWithParam<start_method> {};


} // namespace

namespace {
void exit_at_once() {}

// A child that first touches a queue (its first use starts the child's own
// fork server) and then starts grandchildren, which must exit normally.
void use_queue_then_start_children(actors::queue<int> q) {
  q.put(1);
  std::vector<actors::process> kids;
  for (int i = 0; i < 3; ++i) {
    kids.emplace_back(exit_at_once);
    kids.back().start();
  }
  for (auto& k : kids)
    if (!k.join(std::chrono::seconds(10)) || *k.exitcode() != 0)
      throw actors::system_exit(3);
}
} // namespace

// Regression: the fork server used to be started while a queue mutex was
// held, so grandchildren inherited it locked and hung at exit.
TEST(queue, grandchildren_of_a_queue_user_exit_cleanly) {
  actors::queue<int> q;
  actors::process p(use_queue_then_start_children, q);
  p.start();
  ASSERT_TRUE(p.join(30s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(q.get(5s), 1);
}

namespace {
// A grandchild that makes a queue of its own, uses it, and reports through
// the queue its grandparent made.
void make_a_queue_and_report(actors::queue<int> report) {
  actors::queue<int> mine;
  mine.put(7);
  report.put(mine.get(10s));
}

// A child whose first libactors call is decoding its queue argument (which
// starts the child's fork server lazily); it starts a grandchild and reports
// the grandchild's exit code.
void start_a_queue_maker(actors::queue<int> report) {
  process grandchild(make_a_queue_and_report, report);
  grandchild.start();
  report.put(grandchild.join(20s) ? *grandchild.exitcode() : 99);
}
} // namespace

// Regression: the child's fork server was forked while the child was still
// decoding its arguments, so every grandchild believed it was decoding too:
// a queue it made was a null placeholder and put() crashed (exit -11).
TEST(queue, a_grandchild_of_a_queue_argument_can_make_a_queue) {
  actors::queue<int> q;
  process p(start_a_queue_maker, q);
  p.start();
  ASSERT_TRUE(p.join(30s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(q.try_get(10s), 7) << "the grandchild's item";
  EXPECT_EQ(q.try_get(10s), 0) << "the grandchild's exit code";
}

TEST(queue, put_and_get_in_one_process) {
  actors::queue<std::string> q;
  q.put("a");
  q.put("b");
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(1s), "b");
  EXPECT_TRUE(q.empty());
}

TEST_P(queue_each_method, five_workers_count_to_ten_thousand) {
#ifdef __SANITIZE_ADDRESS__
  // fork() while this process's queue threads run: GCC 12's AddressSanitizer
  // allocator has no fork handlers, so a child can inherit its lock held and
  // hang (glibc's malloc is fork-safe; the normal build runs this case).
  if (GetParam() == start_method::fork)
    GTEST_SKIP() << "fork with running threads under AddressSanitizer";
#endif
  actors::queue<int> q;
  std::vector<process> workers;
  for (int i = 0; i < 5; ++i) {
    workers.emplace_back(count_to, q, 10'000);
    workers.back().method(GetParam()).start();
  }
  long sum = 0;
  for (int i = 0; i < 5 * 10'000; ++i)
    sum += q.get(10s);
  for (auto& w : workers)
    w.join();
  EXPECT_EQ(sum, 5L * (10'000L * 10'001 / 2));
  EXPECT_EQ(q.qsize(), 0u);
}

namespace {
// Puts one item and leaves through std::exit: a normal exit, so the item
// must not be lost.
void put_then_std_exit(actors::queue<int> q, int value) {
  q.put(value);
  std::exit(0);
}
} // namespace

TEST_P(queue_each_method, an_item_put_just_before_std_exit_arrives) {
#ifdef __SANITIZE_ADDRESS__
  if (GetParam() == start_method::fork)
    GTEST_SKIP() << "fork with running threads under AddressSanitizer";
#endif
  actors::queue<int> q;
  process p(put_then_std_exit, q, 42);
  p.method(GetParam()).start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(q.try_get(5s), 42);
}

namespace {
// A queue a fork child inherits as its parent's object, as a global would be
// (its arguments are decoded into handles of their own instead).
actors::queue<int>* inherited = nullptr;

void put_to_inherited(int value) {
  inherited->put(value);
}

void get_from_inherited(actors::queue<int> report) {
  report.put(inherited->get(10s));
}
} // namespace

// Regression: a fork child that used its parent's queue object inherited the
// put batch (items whose put() had returned in the parent) and sent it again
// with its own items.
TEST(queue, a_fork_child_does_not_send_its_parents_buffered_items_again) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "fork with running threads under AddressSanitizer";
#endif
  actors::queue<int> q;
  inherited = &q;
  const int rounds = 5, per_round = 100;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < per_round; ++i)
      q.put(r * per_round + i); // the last ones still wait in the batch
    process p(put_to_inherited, -1 - r);
    p.method(start_method::fork).start();
    ASSERT_TRUE(p.join(20s));
    ASSERT_EQ(p.exitcode(), 0);
  }
  std::multiset<int> seen;
  while (auto v = q.try_get(2s)) {
    seen.insert(*v);
    if (seen.size() == rounds * per_round + rounds)
      break;
  }
  EXPECT_EQ(seen.size(), std::size_t{rounds * per_round + rounds});
  for (int v = -rounds; v < rounds * per_round; ++v)
    EXPECT_EQ(seen.count(v), 1u) << v;
  EXPECT_EQ(q.try_get(200ms), std::nullopt) << "an item arrived twice";
  inherited = nullptr;
}

// A fork child that uses its parent's queue object does not return the items
// the parent fetched ahead: those are the parent's to return, and each item
// is delivered once.
TEST(queue, a_fork_child_does_not_return_its_parents_fetched_items) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "fork with running threads under AddressSanitizer";
#endif
  actors::queue<int> q, report;
  inherited = &q;
  const int total = 100;
  for (int i = 0; i < total; ++i)
    q.put(i);
  std::multiset<int> seen;
  for (int i = 0; i < 10; ++i) // fetches in growing batches: some are ahead
    seen.insert(q.get(5s));
  process p(get_from_inherited, report);
  p.method(start_method::fork).start();
  ASSERT_TRUE(p.join(20s));
  ASSERT_EQ(p.exitcode(), 0);
  seen.insert(report.get(5s));
  while (seen.size() < total)
    seen.insert(q.get(5s));
  for (int v = 0; v < total; ++v)
    EXPECT_EQ(seen.count(v), 1u) << v;
  EXPECT_EQ(q.try_get(200ms), std::nullopt);
  inherited = nullptr;
}

// A fork child that uses its parent's bounded queue object attaches to the
// ring anew (the parent's connection and record are not its own), and the
// two share the items.
TEST(queue, a_fork_child_uses_its_parents_bounded_queue_object) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "fork with running threads under AddressSanitizer";
#endif
  actors::queue<int> q(4), report;
  inherited = &q;
  q.put(1); // the parent has attached
  q.put(2);
  process taker(get_from_inherited, report);
  taker.method(start_method::fork).start();
  ASSERT_TRUE(taker.join(20s));
  ASSERT_EQ(taker.exitcode(), 0);
  EXPECT_EQ(report.get(5s), 1);
  process putter(put_to_inherited, 3);
  putter.method(start_method::fork).start();
  ASSERT_TRUE(putter.join(20s));
  ASSERT_EQ(putter.exitcode(), 0);
  EXPECT_EQ(q.get(5s), 2);
  EXPECT_EQ(q.get(5s), 3);
  EXPECT_EQ(q.qsize(), 0u);
  inherited = nullptr;
}

INSTANTIATE_TEST_SUITE_P(queue, queue_each_method,
                         test_util::all_start_methods(), test_util::method_name);

// Every item arrives exactly once, for several producer/consumer counts.
class queue_mpmc : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(queue_mpmc, every_item_arrives_exactly_once) {
  auto [producers, consumers] = GetParam();
  constexpr int per_producer = 20'000;
  actors::queue<int> q(GetParam().first == 3 ? 64 : 0); // bounded in one variant
  std::vector<process> ps, cs;
  std::vector<connection<std::vector<int>>> reports;
  for (int c = 0; c < consumers; ++c) {
    auto [mine, theirs] = actors::pipe<std::vector<int>>();
    cs.emplace_back(consume, q, theirs);
    cs.back().start();
    theirs.close();
    reports.push_back(mine);
  }
  for (int p = 0; p < producers; ++p) {
    ps.emplace_back(produce, q, p * per_producer, per_producer);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
  for (int c = 0; c < consumers; ++c)
    q.put(-1);
  std::vector<int> all;
  for (auto& r : reports) {
    auto got = r.recv(30s);
    all.insert(all.end(), got.begin(), got.end());
  }
  for (auto& c : cs)
    c.join();
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(producers * per_producer));
  for (int i = 0; i < producers * per_producer; ++i)
    ASSERT_EQ(all[i], i) << "item " << i << " missing or duplicated";
}

INSTANTIATE_TEST_SUITE_P(queue, queue_mpmc,
                         ::testing::Values(std::pair{1, 1}, std::pair{2, 3}, std::pair{3, 2},
                                           std::pair{4, 4}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "p"
                                  + std::to_string(info.param.second) + "c";
                         });

TEST(queue, items_put_just_before_exit_arrive) {
  actors::queue<int> q;
  process one(produce, q, 7, 1); // puts one item and returns at once
  process many(produce, q, 100, 1000);
  one.start();
  many.start();
  one.join();
  many.join();
  std::vector<int> got;
  for (int i = 0; i < 1001; ++i)
    got.push_back(q.get(5s));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got.front(), 7);
  EXPECT_EQ(got.back(), 1099);
}

TEST(queue, maxsize_blocks_and_times_out) {
  actors::queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  q.put(1);
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(error_of([&] { q.put_nowait(3); }), errc::queue_full);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(q.put(3, 100ms), actors::queue_full);
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  EXPECT_FALSE(q.try_put(3));
  EXPECT_EQ(q.get(), 1);
  q.put(3, 1s);
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 3);
  EXPECT_EQ(error_of([&] { (void) q.get_nowait(); }), errc::queue_empty);
  t0 = std::chrono::steady_clock::now();
  EXPECT_THROW((void) q.get(100ms), actors::queue_empty);
  EXPECT_GE(test_util::seconds_since(t0), 0.09);
  EXPECT_FALSE(q.try_get());
}

TEST(queue, a_fast_producer_is_held_back_by_maxsize) {
  actors::queue<int> q(10);
  process p(produce, q, 0, 2000);
  p.start();
  std::uint64_t most = 0;
  for (int i = 0; i < 2000; ++i) {
    if (i % 100 == 0)
      most = std::max(most, q.qsize());
    ASSERT_EQ(q.get(10s), i);
  }
  p.join();
  EXPECT_LE(most, 10u);
}

TEST(queue, items_held_by_a_killed_consumer_are_not_lost) {
  actors::queue<int> q;
  for (int i = 0; i < 100; ++i)
    q.put(i);
  auto [mine, theirs] = actors::pipe<int>();
  process c(take_one_and_hang, q, theirs);
  c.start();
  theirs.close();
  int taken = mine.recv(10s);
  c.kill();
  c.join();
  std::vector<int> rest;
  while (auto v = q.try_get(1s))
    rest.push_back(*v);
  std::sort(rest.begin(), rest.end());
  rest.erase(std::unique(rest.begin(), rest.end()), rest.end());
  // At least once: the item the consumer took may come back; nothing is lost.
  EXPECT_GE(rest.size(), 99u);
  for (int i = 0; i < 100; ++i) {
    if (i != taken) {
      EXPECT_TRUE(std::binary_search(rest.begin(), rest.end(), i)) << i;
    }
  }
}

// A consumer that dies must not push a bounded queue over its maxsize: what
// it holds unacknowledged counts against maxsize until it is taken or comes
// back, so producers are held back instead.
TEST(queue, items_of_a_killed_consumer_never_overflow_maxsize) {
  actors::queue<int> q(10);
  for (int i = 0; i < 10; ++i)
    q.put(i);
  auto [mine, theirs] = actors::pipe<int>();
  process c(take_one_and_hang, q, theirs);
  c.start();
  theirs.close();
  int taken = mine.recv(10s);
  int next = 10;
  while (q.try_put(next, 500ms)) // refill up to the limit
    ++next;
  EXPECT_LE(q.qsize(), 10u);
  c.kill();
  c.join();
  // Nothing is put from here on: all the queue can still deliver, including
  // what comes back from the dead consumer, must fit within maxsize.
  std::vector<int> rest;
  while (auto v = q.try_get(1s))
    rest.push_back(*v);
  EXPECT_LE(rest.size(), 10u) << "the queue held more than maxsize";
  rest.push_back(taken);
  std::sort(rest.begin(), rest.end());
  rest.erase(std::unique(rest.begin(), rest.end()), rest.end());
  ASSERT_EQ(rest.size(), static_cast<std::size_t>(next)) << "an item was lost";
  for (int i = 0; i < next; ++i)
    EXPECT_EQ(rest[i], i);
}

TEST(queue, a_queue_travels_through_a_pipe) {
  actors::queue<std::string> q;
  auto [mine, theirs] = actors::pipe<actors::queue<std::string>>();
  process p(put_through_received_queue, theirs);
  p.start();
  theirs.close();
  mine.send(q);
  EXPECT_EQ(q.get(10s), "arrived");
  p.join();
}

TEST(queue, get_nowait_sees_this_process_s_own_put) {
  actors::queue<int> q;
  for (int i = 0; i < 200; ++i) {
    q.put(i);
    ASSERT_EQ(q.get_nowait(), i);
  }
}

TEST(queue, close_stops_putting_here_only) {
  actors::queue<int> q;
  q.put(1);
  q.close();
  EXPECT_EQ(error_of([&] { q.put(2); }), errc::closed);
  EXPECT_EQ(q.get(1s), 1);
}

TEST(queue, oversized_item_is_refused_and_the_queue_stays_usable) {
  auto saved = actors::max_frame_size();
  actors::set_max_frame_size(64 * 1024);
  actors::queue<std::string> q;
  EXPECT_EQ(error_of([&] { q.put(std::string(100'000, 'x')); }), errc::frame_too_large);
  q.put("fits");
  EXPECT_EQ(q.get(1s), "fits");
  actors::set_max_frame_size(saved);
}

TEST(joinable_queue, join_returns_when_all_items_are_done) {
  actors::joinable_queue<int> q;
  for (int i = 0; i < 300; ++i)
    q.put(i);
  process a(work_and_mark_done, q, 150), b(work_and_mark_done, q, 150);
  a.start();
  b.start();
  q.join(20s);
  a.join();
  b.join();
  EXPECT_EQ(a.exitcode(), 0);
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(joinable_queue, join_times_out_while_items_are_unfinished) {
  actors::joinable_queue<int> q;
  q.put(1);
  EXPECT_THROW(q.join(100ms), actors::timeout_error);
  (void) q.get();
  EXPECT_THROW(q.join(50ms), actors::timeout_error);
  q.task_done();
  q.join(1s);
  EXPECT_EQ(error_of([&] { q.task_done(); }), errc::bad_argument);
}

TEST(joinable_queue, a_consumer_dying_with_unfinished_items_fails_join) {
  actors::joinable_queue<int> q;
  for (int i = 0; i < 4; ++i)
    q.put(i);
  auto [mine, theirs] = actors::pipe<int>();
  process c(take_two_and_hang, q, theirs);
  c.start();
  theirs.close();
  (void) mine.recv(10s);
  std::thread killer([&] {
    std::this_thread::sleep_for(200ms);
    c.kill();
  });
  try {
    q.join(20s); // Python hangs here forever
    ADD_FAILURE() << "join() should have failed";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), errc::consumer_died) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::to_string(c.pid())), std::string::npos);
  }
  killer.join();
  c.join();
}

TEST(queue, socket_directory_is_private_and_removed_even_after_sigkill) {
  auto [mine, theirs] = actors::pipe<std::string>();
  process owner(own_a_queue, theirs);
  owner.start();
  theirs.close();
  auto path = mine.recv(10s);
  auto dir = path.substr(0, path.rfind('/'));
  struct stat st{};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  owner.kill();
  owner.join();
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::access(dir.c_str(), F_OK) != 0;
    if (!gone)
      std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << dir << " outlived its node";
}

// The socket directory is 0700; with it opened up, a process of another uid
// can reach the socket, and the server must still refuse it (SO_PEERCRED).
TEST(queue, a_process_of_another_uid_is_refused) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "needs root to run a child as another uid";
  test_util::temp_dir dir;
  test_util::capture_stderr quiet(dir.file("err")); // the server logs the refusal
  actors::queue<int> q;
  q.put(1);
  auto path =
    actors::detail::decode<actors::detail::queue_address>(actors::detail::encode(q)).path;
  ::chmod(path.substr(0, path.rfind('/')).c_str(), 0755);
  ::chmod(path.c_str(), 0777);
  int pid = ::fork();
  if (pid == 0) { // only async-signal-safe calls: this process has threads
    if (::setgid(65534) != 0 || ::setuid(65534) != 0)
      _exit(2);
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      _exit(3);
    char hello[13] = {5, 0, 0, 0, 0, 0, 2, static_cast<char>(0xAC), 1, 1, 0, 0, 0};
    // The server may refuse before we write: no SIGPIPE for that.
    (void) !::send(s, hello, sizeof hello, MSG_NOSIGNAL);
    timeval tv{2, 0}; // an accepted connection would just stay silent
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b;
    auto n = ::read(s, &b, 1);
    // Refused: the server closed it (EOF, or ECONNRESET as our hello was unread).
    _exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 4);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "2: setuid failed, 3: connect failed, 4: not refused";
  EXPECT_NE(test_util::read_file(dir.file("err")).find("refused a connection from uid 65534"),
            std::string::npos);
  EXPECT_EQ(q.get(1s), 1); // the queue is unaffected
}

TEST(simple_queue, put_get_empty) {
  actors::simple_queue<int> q;
  EXPECT_TRUE(q.empty());
  q.put(5);
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(q.get(), 5);
}

TEST(queue, one_gibibyte_item_crosses_intact) {
  test_util::allow_seconds(200);
  actors::queue<std::vector<std::uint8_t>> q;
  auto [mine, theirs] = actors::pipe<std::uint64_t>();
  process p(put_gigabyte, q, theirs);
  p.start();
  theirs.close();
  auto expected = mine.recv(150s);
  auto v = q.get(150s);
  ASSERT_EQ(v.size(), std::size_t{1} << 30);
  EXPECT_EQ(checksum(v), expected);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// -- shutdown (Python 3.13's Queue.shutdown) ---------------------------------------

namespace {

// Takes items until the queue says it is shut down; reports how many it took
// and the error that ended it.
void take_until_shut_down(actors::queue<int> q, connection<std::pair<int, int>> report) {
  int taken = 0;
  auto why = error_of([&] {
    for (;;) {
      (void) q.get(20s);
      ++taken;
    }
  });
  report.send({taken, static_cast<int>(why)});
}

// Says it is about to put into a full queue, then reports how put() ended.
void put_into_full_queue(actors::queue<int> q, connection<int> report) {
  report.send(0);
  report.send(static_cast<int>(error_of([&] { q.put(99, 20s); })));
}

// Puts until put() throws; reports how it ended.
void put_until_refused(actors::queue<int> q, connection<int> report) {
  auto why = error_of([&] {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; test_util::seconds_since(t0) < 20; ++i)
      q.put(i);
  });
  report.send(static_cast<int>(why));
}

// Puts `n` items and says so at once, while they may still be buffered here.
void put_and_say(actors::queue<int> q, connection<int> report, int n) {
  for (int i = 0; i < n; ++i)
    q.put(i);
  report.send(n);
}

void shut_down_queue(actors::queue<int> q, bool immediate) {
  q.shutdown(immediate);
}

} // namespace

TEST(queue_shutdown, put_throws_and_get_drains_the_items_then_throws) {
  actors::queue<int> q;
  q.put(1);
  q.put(2);
  EXPECT_FALSE(q.is_shut_down());
  q.shutdown();
  EXPECT_TRUE(q.is_shut_down());
  EXPECT_EQ(error_of([&] { q.put(3); }), errc::queue_shut_down);
  EXPECT_THROW(q.try_put(3), actors::queue_shut_down);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get(1s), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(error_of([&] { (void) q.get(); }), errc::queue_shut_down);
  EXPECT_EQ(error_of([&] { (void) q.try_get(); }), errc::queue_shut_down);
  q.shutdown(); // again: harmless
  EXPECT_EQ(error_of([&] { (void) q.get_nowait(); }), errc::queue_shut_down);
}

TEST(queue_shutdown, immediate_drops_the_items_so_get_throws_at_once) {
  actors::queue<int> q(10);
  for (int i = 0; i < 5; ++i)
    q.put(i);
  EXPECT_EQ(q.get(), 0); // this process now holds fetched items too
  q.shutdown(true);
  EXPECT_EQ(error_of([&] { (void) q.get(); }), errc::queue_shut_down);
  EXPECT_EQ(error_of([&] { q.put(5); }), errc::queue_shut_down);
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(queue_shutdown, a_blocked_get_in_another_process_takes_the_rest_then_throws) {
  actors::queue<int> q;
  auto [mine, theirs] = actors::pipe<std::pair<int, int>>();
  process c(take_until_shut_down, q, theirs);
  c.start();
  theirs.close();
  for (int i = 0; i < 3; ++i)
    q.put(i);
  q.shutdown();
  auto [taken, why] = mine.recv(30s);
  EXPECT_EQ(taken, 3);
  EXPECT_EQ(static_cast<errc>(why), errc::queue_shut_down);
  c.join();
  EXPECT_EQ(c.exitcode(), 0);
}

TEST(queue_shutdown, a_blocked_put_in_another_process_wakes_and_throws) {
  actors::queue<int> q(1);
  q.put(1);
  auto [mine, theirs] = actors::pipe<int>();
  process c(put_into_full_queue, q, theirs);
  c.start();
  theirs.close();
  EXPECT_EQ(mine.recv(10s), 0);
  q.shutdown();
  EXPECT_EQ(static_cast<errc>(mine.recv(30s)), errc::queue_shut_down);
  c.join();
  EXPECT_EQ(q.get(), 1); // the item put before the shutdown is still there
  EXPECT_THROW((void) q.get(), actors::queue_shut_down);
}

TEST(queue_shutdown, a_producer_in_another_process_is_refused) {
  actors::queue<int> q; // unbounded: the producer never asks for room
  auto [mine, theirs] = actors::pipe<int>();
  process c(put_until_refused, q, theirs);
  c.start();
  theirs.close();
  (void) q.get(10s); // it is producing
  q.shutdown();
  EXPECT_EQ(static_cast<errc>(mine.recv(30s)), errc::queue_shut_down);
  c.join();
  // What the producer put before the shutdown can still be taken; then get throws.
  EXPECT_EQ(error_of([&] {
              for (;;)
                (void) q.get(10s);
            }),
            errc::queue_shut_down);
}

TEST(queue_shutdown, items_whose_put_returned_survive_a_shutdown_that_crosses_their_batch) {
  // The producer's batch leaves within ~200 us of its put()s; the shutdown
  // comes right after it says it put them, so in some rounds it arrives
  // first. Those items were dropped before.
  for (int round = 0; round < 10; ++round) {
    actors::queue<int> q;
    auto [mine, theirs] = actors::pipe<int>();
    process p(put_and_say, q, theirs, 5);
    p.start();
    theirs.close();
    ASSERT_EQ(mine.recv(10s), 5);
    q.shutdown();
    p.join(10s);
    for (int i = 0; i < 400 && q.qsize() < 5; ++i) // the server reads the batch
      std::this_thread::sleep_for(5ms);
    std::vector<int> got;
    (void) error_of([&] {
      for (;;)
        got.push_back(q.get(2s));
    });
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4})) << "round " << round;
  }
}

TEST(queue_shutdown, a_shutdown_from_a_child_reaches_the_owner) {
  actors::queue<int> q;
  q.put(7);
  process c(shut_down_queue, q, true);
  EXPECT_FALSE(q.is_shut_down());
  c.start();
  c.join();
  EXPECT_EQ(c.exitcode(), 0);
  EXPECT_TRUE(q.is_shut_down());
  EXPECT_EQ(error_of([&] { (void) q.get(1s); }), errc::queue_shut_down);
  EXPECT_EQ(error_of([&] { q.put(8); }), errc::queue_shut_down);
}

TEST(queue_shutdown, immediate_shutdown_counts_dropped_items_done_for_join) {
  actors::joinable_queue<int> q;
  for (int i = 0; i < 3; ++i)
    q.put(i);
  EXPECT_EQ(q.get(), 0); // taken, not yet done
  q.shutdown(true);
  EXPECT_THROW(q.join(100ms), actors::timeout_error);
  q.task_done();
  q.join(5s);
}

namespace {

// A consumer streaming items has the next batch asked for (and maybe on its
// way) while it uses this one: killed then, it loses nothing.
TEST(queue, a_consumer_killed_holding_a_pipelined_batch_loses_nothing) {
  actors::queue<int> q;
  constexpr int total = 3000;
  for (int i = 0; i < total; ++i)
    q.put(i);
  auto [mine, theirs] = actors::pipe<int>();
  process c(take_n_and_hang, q, theirs, 700);
  c.start();
  theirs.close();
  int last = mine.recv(10s);
  EXPECT_EQ(last, 699); // one consumer: in order
  c.kill();
  c.join();
  std::vector<int> rest;
  while (auto v = q.try_get(1s))
    rest.push_back(*v);
  std::sort(rest.begin(), rest.end());
  rest.erase(std::unique(rest.begin(), rest.end()), rest.end());
  for (int i = last + 1; i < total; ++i)
    ASSERT_TRUE(std::binary_search(rest.begin(), rest.end(), i)) << "lost item " << i;
}

// With credits asked for ahead (pipelined) by several producers, the queue
// still never holds more than maxsize, and every item arrives.
TEST(queue, pipelined_credits_never_exceed_maxsize) {
  actors::queue<int> q(16);
  constexpr int each = 3000;
  process a(produce_bounded, q, 0, each), b(produce_bounded, q, each, each);
  a.start();
  b.start();
  std::vector<int> got;
  std::uint64_t most = 0;
  auto until = std::chrono::steady_clock::now() + 60s;
  while (got.size() < 2 * each && std::chrono::steady_clock::now() < until) {
    if (got.size() % 50 == 0) {
      most = std::max(most, q.qsize());
      std::this_thread::sleep_for(1ms); // let the producers fill it up
      most = std::max(most, q.qsize());
    }
    auto v = q.try_get(10s);
    if (!v)
      break;
    got.push_back(*v);
  }
  a.join();
  b.join();
  EXPECT_LE(most, 16u) << "the queue held more than maxsize";
  EXPECT_GT(most, 0u);
  ASSERT_EQ(got.size(), 2u * each);
  std::sort(got.begin(), got.end());
  for (int i = 0; i < 2 * each; ++i)
    ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
}

namespace {
// Takes `n` items, working 20 ms on each, then says so and waits.
void take_slowly(actors::queue<int> q, int n, connection<int> said, actors::event go) {
  for (int i = 0; i < n; ++i) {
    (void) q.get(10s);
    std::this_thread::sleep_for(20ms);
  }
  said.send(n);
  go.wait(30s);
}
} // namespace

// A consumer that works long on each item fetches one or two at a time, not
// ever bigger batches: it never holds items another consumer could take.
TEST(queue, a_slow_consumer_does_not_fetch_far_ahead) {
  actors::queue<int> q;
  for (int i = 0; i < 60; ++i)
    q.put(i);
  actors::event go;
  auto [mine, theirs] = actors::pipe<int>(false);
  process c(take_slowly, q, 6, theirs, go);
  c.start();
  EXPECT_EQ(mine.recv(20s), 6);
  // 6 taken; fetched ahead at most a few (doubling would have taken 31+).
  EXPECT_GE(q.qsize(), 50u);
  go.set();
  c.join();
  EXPECT_EQ(q.qsize(), 54u) << "what it fetched and did not take came back";
}

// A pool callback runs on the service loop that also serves this process's
// queues: a call there that waits for such a queue's answer would wait for
// itself. It is refused; a get() of an item already fetched does not wait.
TEST(queue, waiting_for_a_queue_of_this_process_inside_a_pool_callback_is_an_error) {
  actors::queue<int> unbounded;
  actors::queue<int> bounded(1);
  bounded.put(0); // full: a put waits for room
  actors::pool pool(1);
  std::atomic<int> get_code{-1}, size_code{-1};
  std::atomic<int> put_result{-1};
  auto f = pool.apply_async(pool_tasks::square, 4, [&](int) {
    get_code = static_cast<int>(error_of([&] { (void) unbounded.try_get(1s); }));
    size_code = static_cast<int>(error_of([&] { (void) unbounded.qsize(); }));
    // A bounded queue's ring needs no answer from the loop: a put into the
    // full queue just waits out its timeout.
    put_result = bounded.try_put(1, 50ms) ? 1 : 0;
  });
  EXPECT_EQ(f.get(10s), 16);
  EXPECT_EQ(get_code.load(), static_cast<int>(errc::bad_argument));
  EXPECT_EQ(size_code.load(), static_cast<int>(errc::bad_argument));
  EXPECT_EQ(put_result.load(), 0);
  // Outside the callback, both queues work on.
  unbounded.put(5);
  EXPECT_EQ(unbounded.get(5s), 5);
  EXPECT_EQ(bounded.get(5s), 0);
}

namespace {
// Puts one item, then lives on without putting, until told to go.
void put_one_then_idle(actors::queue<int> q, actors::event go) {
  q.put(-1);
  go.wait(30s);
}
} // namespace

// Regression: producers that stopped putting, and live on, kept the credits
// they had been granted ahead, which is room: with two of them a third put()
// waited on an empty queue of maxsize 8. Idle producers give credits back.
TEST(queue, idle_producers_give_their_room_back) {
  actors::queue<int> q(8);
  actors::event go;
  process a(put_one_then_idle, q, go), b(put_one_then_idle, q, go);
  a.start();
  b.start();
  EXPECT_EQ(q.get(10s), -1);
  EXPECT_EQ(q.get(10s), -1);
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(q.try_put(i, 5s)) << "put " << i << " found no room in an empty queue";
  EXPECT_EQ(q.qsize(), 8u);
  go.set();
  a.join();
  b.join();
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(q.get(5s), i);
}

// Big items travel on their own (not copied into a batch) and keep their
// place among small ones.
TEST(queue, big_items_keep_their_order_among_small_ones) {
  actors::queue<std::string> q;
  constexpr int n = 30;
  process p(put_big_and_small, q, n);
  p.start();
  for (int i = 0; i < n; ++i) {
    auto s = q.get(20s);
    ASSERT_EQ(s.size(), i % 3 == 1 ? (1u << 20) + static_cast<unsigned>(i) : 3u) << i;
    ASSERT_EQ(s.find_first_not_of(static_cast<char>('a' + i % 26)), std::string::npos) << i;
  }
  p.join();
}

// -- the flush timer (on the node's service loop, no thread of its own) -----------

// The names of this process's threads.
std::vector<std::string> thread_names() {
  std::vector<std::string> names;
  for (auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    auto name = test_util::read_file(task.path().string() + "/comm");
    names.push_back(name.substr(0, name.find('\n')));
  }
  return names;
}

// Puts one item and idles until told (the item can only have left on the
// flush timer, or on the thread this test looks for), then reports the names
// of its threads.
void put_then_report_threads(actors::queue<int> q, connection<std::vector<std::string>> peer) {
  q.put(5);
  (void) peer.recv(10s);
  peer.send(thread_names());
}

TEST(queue, no_process_that_uses_a_queue_runs_a_flusher_thread) {
  // Unbounded: a bounded queue's items go through its ring and are never
  // flushed, so its child might not have started (or named) the loop yet.
  actors::queue<int> q;
  q.put(1);
  EXPECT_EQ(q.get(5s), 1);
  auto [mine, theirs] = actors::pipe<std::vector<std::string>>();
  process p(put_then_report_threads, q, theirs);
  p.start();
  theirs.close();
  EXPECT_EQ(q.get(5s), 5);
  mine.send({});
  auto child = mine.recv(10s);
  ASSERT_TRUE(p.join(10s));
  for (const auto& names : {thread_names(), child})
    EXPECT_EQ(std::count(names.begin(), names.end(), "actors.flusher"), 0);
  // The loop the child's timer ran on (it named itself before that).
  EXPECT_EQ(std::count(child.begin(), child.end(), "actors.service"), 1);
}

// Puts one item, says so, and idles: no later call of its own sends the batch.
void put_one_and_idle(actors::queue<int> q, connection<int> said) {
  q.put(42);
  said.send(1);
  std::this_thread::sleep_for(1h);
}

TEST(queue, an_item_put_by_a_producer_that_then_idles_arrives_promptly) {
  actors::queue<int> q;
  auto [mine, theirs] = actors::pipe<int>();
  process p(put_one_and_idle, q, theirs);
  p.start();
  theirs.close();
  ASSERT_EQ(mine.recv(10s), 1);
  auto t0 = std::chrono::steady_clock::now();
  auto got = q.try_get(5s);
  double took = test_util::seconds_since(t0);
  p.kill();
  p.join();
  ASSERT_EQ(got, 42) << "the idle producer's item never left its batch";
  EXPECT_LT(took, 0.5);
}

// Takes one item, says which, and idles: no later request carries its ack.
void take_one_and_idle(actors::queue<int> q, connection<int> said) {
  said.send(q.get(10s));
  std::this_thread::sleep_for(1h);
}

TEST(queue, room_freed_by_a_consumer_that_then_idles_frees_promptly) {
  actors::queue<int> q(1);
  q.put(1);
  auto [mine, theirs] = actors::pipe<int>();
  process p(take_one_and_idle, q, theirs);
  p.start();
  theirs.close();
  ASSERT_EQ(mine.recv(10s), 1);
  auto t0 = std::chrono::steady_clock::now();
  bool put = q.try_put(2, 5s); // room only once the server has the consumer's ack
  double took = test_util::seconds_since(t0);
  p.kill();
  p.join();
  ASSERT_TRUE(put) << "the idle consumer's ack never left";
  EXPECT_LT(took, 0.5);
  EXPECT_EQ(q.get(5s), 2);
}

// Item i of the socket-filling stream: its index, then a letter, 1 to 60 KB
// (batched), and every tenth over 64 KiB (sent on its own).
std::string large_item(int i) {
  std::size_t size = i % 10 == 9 ? 70'000 + static_cast<std::size_t>(i)
                                 : 1'000 + static_cast<std::size_t>(i) * 7'919 % 59'000;
  std::string s(size, static_cast<char>('a' + i % 26));
  std::memcpy(s.data(), &i, sizeof i);
  return s;
}

// Puts the stream as fast as it can, but leaves the batch to the flush timer
// now and then, so that the timer's sends meet a full socket.
void put_large_items(actors::queue<std::string> q, int n) {
  for (int i = 0; i < n; ++i) {
    q.put(large_item(i));
    if (i % 16 == 15)
      std::this_thread::sleep_for(300us);
  }
}

// Takes the stream slowly and reports how many items came intact and in
// order before the first that did not (n if none).
void take_large_items_slowly(actors::queue<std::string> q, int n, connection<int> report) {
  int i = 0;
  for (; i < n; ++i) {
    if (q.get(60s) != large_item(i))
      break;
    if (i % 32 == 0)
      std::this_thread::sleep_for(1ms);
  }
  report.send(i);
}

// A producer that fills its socket while the consumer lags: the flush timer
// sends what the socket takes and keeps the rest, which goes before anything
// else; nothing is lost, reordered or torn. The producer runs in the queue's
// own process (its timer shares the loop that reads the socket) and in a
// child.
TEST(queue, a_producer_that_fills_the_socket_loses_and_reorders_nothing) {
  constexpr int n = 1'500;
  for (bool here : {true, false}) {
    actors::queue<std::string> q;
    auto [mine, theirs] = actors::pipe<int>();
    process consumer(take_large_items_slowly, q, n, theirs);
    consumer.start();
    theirs.close();
    process producer(put_large_items, q, n);
    if (here)
      put_large_items(q, n);
    else
      producer.start();
    EXPECT_EQ(mine.recv(120s), n) << (here ? "producer here" : "producer in a child");
    ASSERT_TRUE(consumer.join(10s));
    if (!here) {
      ASSERT_TRUE(producer.join(10s));
    }
  }
}

} // namespace


// -- wait(), the owner's end, and big items, on both kinds of queue -----------------

namespace {

void put_later(actors::queue<int> q, int v) {
  std::this_thread::sleep_for(100ms);
  q.put(v);
}

// Creates a queue of `maxsize`, sends it to the parent, and waits to be
// killed.
void own_and_send(std::uint64_t maxsize, connection<actors::queue<int>> out) {
  actors::queue<int> q(maxsize);
  q.put(1);
  out.send(q);
  std::this_thread::sleep_for(60s);
}

void put_big_into(actors::queue<std::string> q) {
  q.put("small");
  q.put(std::string(3 << 20, 'B')); // bigger than a bounded queue's ring at first
  q.put("after");
}

class both_queues : public ::testing::TestWithParam<std::uint64_t> {};

} // namespace

TEST_P(both_queues, wait_returns_once_an_item_can_be_taken) {
  actors::queue<int> q(GetParam());
  EXPECT_TRUE(actors::wait({q}, 20ms).empty());
  process p(put_later, q, 7);
  p.start();
  EXPECT_EQ(actors::wait({q}, 10s).size(), 1u);
  EXPECT_EQ(q.get_nowait(), 7);
  p.join();
  EXPECT_TRUE(actors::wait({q}, 20ms).empty()) << "taken: not ready again";
  q.put(8);
  EXPECT_EQ(actors::wait({q}, 5s).size(), 1u);
  EXPECT_EQ(q.get(5s), 8);
}

TEST_P(both_queues, a_get_waiting_on_a_killed_owner_throws_eof_error) {
  auto [mine, theirs] = actors::pipe<actors::queue<int>>();
  process owner(own_and_send, GetParam(), theirs);
  owner.start();
  theirs.close();
  auto q = mine.recv(10s);
  EXPECT_EQ(q.get(5s), 1);
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    owner.kill();
  });
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { (void) q.get(20s); }), errc::eof);
  EXPECT_LT(test_util::seconds_since(t0), 5.0) << "noticed within a slice or two";
  killer.join();
  owner.join();
  EXPECT_EQ(error_of([&] { q.put(2); }), errc::eof) << "every later call fails too";
}

TEST_P(both_queues, an_item_of_megabytes_crosses_in_order) {
  actors::queue<std::string> q(GetParam());
  process p(put_big_into, q);
  p.start();
  EXPECT_EQ(q.get(20s), "small");
  EXPECT_EQ(q.get(20s), std::string(3 << 20, 'B'));
  EXPECT_EQ(q.get(20s), "after");
  p.join();
}

INSTANTIATE_TEST_SUITE_P(queue, both_queues, ::testing::Values(0u, 3u),
                         [](const auto& info) {
                           return info.param == 0 ? std::string("unbounded") : std::string("bounded");
                         });
