// The queue peers: queue.1p1c's job (one producer process puts `n` ints, one
// consumer process takes them; a round is timed from starting both to
// joining both) done with ZeroMQ PUSH/PULL over ipc:// and with a
// Boost.Interprocess message_queue. A plain program (no libactors, no bench
// harness), built with whichever of the two libraries CMake found, so that
// the core benchmarks never link them.
//
// Prints lines of "key value" (items/s), each the median of <rounds> rounds
// after one untimed warm-up round, as bench/harness.cpp measures:
//   zeromq     PUSH/PULL over ipc://, default high-water mark (1000); the
//              producer binds, the consumer connects (retrying after 1 ms)
//   boost_mq   boost::interprocess::message_queue of 1000 int-sized messages
//   boost_mq.bounded64, boost_mq.bounded8
//              the same with room for 64 and 8 messages, as queue.bounded64
//              and queue.bounded8 (<bounded_n> items, default n)
//
// Usage: queue_peer_bench [--quick] <n> <rounds> [<bounded_n>]
// A peer whose round fails (a child exits with a status other than 0, the
// consumer's sum is wrong) is left out, with the reason on stderr.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#ifdef QUEUE_PEER_ZMQ
#include <zmq.h>
#endif
#ifdef QUEUE_PEER_BOOST_MQ
#include <boost/interprocess/ipc/message_queue.hpp>
#endif

namespace {

// Runs `child` in a forked process; its return value is the exit status.
pid_t start(const std::function<int()>& child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int status = 1;
    try {
      status = child();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "queue_peer: %s\n", e.what());
    }
    std::fflush(stderr);
    ::_exit(status);
  }
  return pid;
}

bool joined_ok(pid_t pid) {
  int status = 0;
  pid_t w;
  do
    w = ::waitpid(pid, &status, 0);
  while (w < 0 && errno == EINTR);
  return w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

long long expected_sum(int n) {
  return static_cast<long long>(n) * (n - 1) / 2;
}

// One round: `create` called (the queue made, as libactors' round does),
// the consumer and the producer started, both joined; items/s, or a negative
// figure when a child failed. The producer calls its argument, which waits
// until the consumer has exited (the end of a pipe the consumer holds),
// before it closes its end of the queue: ZeroMQ may drop items still on their
// way when the sending socket is closed first.
using producer_fn = std::function<int(const std::function<void()>& until_consumed)>;
double round_of(int n, const std::function<void()>& create, const std::function<int()>& consumer,
                const producer_fn& producer) {
  auto t0 = std::chrono::steady_clock::now();
  create();
  int done[2];
  if (::pipe(done) != 0)
    return -1;
  pid_t c = start([&] {
    ::close(done[0]);
    return consumer();
  });
  pid_t p = start([&] {
    ::close(done[1]);
    return producer([&] {
      char b;
      while (::read(done[0], &b, 1) > 0) {
      }
    });
  });
  ::close(done[0]);
  ::close(done[1]);
  bool ok = c > 0 && p > 0;
  ok = (p <= 0 || joined_ok(p)) && ok;
  if (!ok && c > 0)
    ::kill(c, SIGKILL); // its producer is gone: it would wait forever
  ok = (c <= 0 || joined_ok(c)) && ok;
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ok ? n / s : -1;
}

// The median of `rounds` rounds after one untimed one, printed as "key
// value"; nothing printed when any round failed, the untimed one included.
void measure(const char* key, int rounds, const std::function<double()>& one_round) {
  bool warm_up_ok = one_round() >= 0;
  std::vector<double> v;
  for (int i = 0; i < rounds; ++i)
    v.push_back(one_round());
  std::sort(v.begin(), v.end());
  if (!warm_up_ok || v.front() < 0) {
    std::fprintf(stderr, "queue_peer: %s: a round failed\n", key);
    return;
  }
  std::size_t mid = v.size() / 2;
  double median = v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  std::printf("%s %.6g\n", key, median);
  std::fflush(stdout);
}

#ifdef QUEUE_PEER_ZMQ
// The producer binds: a PUSH socket with no peer yet blocks in send, so no
// item can wait in a pipe to a peer that is not there. The consumer may
// connect before the bind: it retries after 1 ms, not the default 100 ms,
// which would time the retry instead of the queue.
int zmq_consumer(const std::string& endpoint, int n) {
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_PULL);
  int retry_ms = 1;
  zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &retry_ms, sizeof retry_ms);
  if (zmq_connect(s, endpoint.c_str()) != 0)
    return 3;
  long long sum = 0;
  for (int i = 0; i < n; ++i) {
    int v = 0;
    if (zmq_recv(s, &v, sizeof v, 0) != sizeof v)
      return 4;
    sum += v;
  }
  zmq_close(s);
  zmq_ctx_term(ctx);
  return sum == expected_sum(n) ? 0 : 5;
}

int zmq_producer(const std::string& endpoint, int n, const std::function<void()>& until_consumed) {
  void* ctx = zmq_ctx_new();
  void* s = zmq_socket(ctx, ZMQ_PUSH);
  if (zmq_bind(s, endpoint.c_str()) != 0)
    return 3;
  for (int i = 0; i < n; ++i)
    if (zmq_send(s, &i, sizeof i, 0) != sizeof i)
      return 4;
  until_consumed();
  zmq_close(s);
  zmq_ctx_term(ctx);
  return 0;
}
#endif

#ifdef QUEUE_PEER_BOOST_MQ
namespace bip = boost::interprocess;

int boost_consumer(const char* name, int n) {
  bip::message_queue mq(bip::open_only, name);
  long long sum = 0;
  for (int i = 0; i < n; ++i) {
    int v = 0;
    bip::message_queue::size_type got = 0;
    unsigned prio = 0;
    mq.receive(&v, sizeof v, got, prio);
    if (got != sizeof v)
      return 4;
    sum += v;
  }
  return sum == expected_sum(n) ? 0 : 5;
}

int boost_producer(const char* name, int n, const std::function<void()>& until_consumed) {
  bip::message_queue mq(bip::open_only, name);
  for (int i = 0; i < n; ++i)
    mq.send(&i, sizeof i, 0);
  until_consumed();
  return 0;
}
#endif

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") != 0)
      words.emplace_back(argv[i]);
  if (words.size() != 2 && words.size() != 3) {
    std::fprintf(stderr, "usage: %s [--quick] <n> <rounds> [<bounded_n>]\n", argv[0]);
    return 2;
  }
  const int n = std::stoi(words[0]);
  const int rounds = std::stoi(words[1]);
  const int bounded_n = words.size() == 3 ? std::stoi(words[2]) : n;
  (void) n; // unused when neither library was found
  (void) rounds;
  (void) bounded_n;
  ::alarm(600); // never hang the benchmark run

#ifdef QUEUE_PEER_ZMQ
  {
    std::string endpoint = "ipc:///tmp/queue_peer_" + std::to_string(::getpid());
    measure("zeromq", rounds, [&] {
      return round_of(
        n, [] {}, [&] { return zmq_consumer(endpoint, n); },
        [&](const std::function<void()>& until_consumed) {
          return zmq_producer(endpoint, n, until_consumed);
        });
    });
    ::unlink(endpoint.c_str() + 6);
  }
#endif

#ifdef QUEUE_PEER_BOOST_MQ
  {
    std::string name = "queue_peer_" + std::to_string(::getpid());
    auto boost_round = [&](int items, std::size_t capacity) {
      bip::message_queue::remove(name.c_str());
      double figure = round_of(
        items,
        [&] { bip::message_queue(bip::create_only, name.c_str(), capacity, sizeof(int)); },
        [&] { return boost_consumer(name.c_str(), items); },
        [&](const std::function<void()>& until_consumed) {
          return boost_producer(name.c_str(), items, until_consumed);
        });
      bip::message_queue::remove(name.c_str());
      return figure;
    };
    measure("boost_mq", rounds, [&] { return boost_round(n, 1000); });
    measure("boost_mq.bounded64", rounds, [&] { return boost_round(bounded_n, 64); });
    measure("boost_mq.bounded8", rounds, [&] { return boost_round(bounded_n, 8); });
  }
#endif
}
