// Queue throughput across processes: one producer to one consumer (unbounded,
// and bounded at 64 and 8), four producers to four consumers on a bounded
// queue, 1 MiB items from one producer to one consumer (unbounded, and
// bounded at 4) beside a bare socket,
// and one qsize() round trip beside a bare one; Python's
// multiprocessing.Queue and (for 1p1c) ZeroMQ and Boost.Interprocess doing
// the same in this run.

#include "harness.hpp"

#include <actors/all.hpp>

#include <string>
#include <unistd.h>

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;
constexpr double gib = 1024.0 * 1024 * 1024;

void produce(actors::queue<int> q, int n) {
  for (int i = 0; i < n; ++i)
    q.put(i);
}

void consume(actors::queue<int> q, int n) {
  for (int i = 0; i < n; ++i)
    (void) q.get();
}

void produce_bytes(actors::queue<std::string> q, int n) {
  std::string item(mib, 'x');
  for (int i = 0; i < n; ++i)
    q.put(item);
}

void consume_bytes(actors::queue<std::string> q, int n) {
  for (int i = 0; i < n; ++i)
    if (q.get().size() != mib)
      throw actors::system_exit(2);
}

bool read_n(int fd, char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::read(fd, p, n);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_n(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::write(fd, p, n);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// The raw bandwidth baseline: the same processes as the queue's, joined by a
// bare socket, moving `n` items of 1 MiB with read/write.
void write_raw(actors::connection<int> c, int n) {
  std::string item(mib, 'x');
  for (int i = 0; i < n; ++i)
    if (!write_n(c.fileno(), item.data(), mib))
      throw actors::system_exit(2);
}

void read_raw(actors::connection<int> c, int n) {
  std::string item(mib, '\0');
  for (int i = 0; i < n; ++i)
    if (!read_n(c.fileno(), item.data(), mib))
      throw actors::system_exit(2);
}

// Starts `ps`, joins them, and fails the round unless all exited with 0.
void run_all(std::vector<actors::process>& ps, const char* what) {
  for (auto& p : ps)
    p.start();
  for (auto& p : ps)
    p.join();
  for (auto& p : ps)
    bench::check(p.exitcode() == 0, what);
}

// `producers` x `consumers` processes move `total` items through a queue of
// `maxsize`; items/s of one round, processes started and joined included.
double move_items(int producers, int consumers, int total, std::uint64_t maxsize) {
  return total / bench::seconds([&] {
    actors::queue<int> q(maxsize);
    std::vector<actors::process> ps;
    for (int c = 0; c < consumers; ++c)
      ps.emplace_back(consume, q, total / consumers);
    for (int p = 0; p < producers; ++p)
      ps.emplace_back(produce, q, total / producers);
    run_all(ps, "queue round");
    bench::check(q.qsize() == 0, "queue round: items left over");
  });
}

// Serves a queue from this child process: sends its handle to the parent,
// then answers 4-byte messages on `raw` with bare read/write (the raw round
// trip) until the parent closes it; the queue lives until then.
void serve_queue(actors::connection<actors::queue<int>> out, actors::connection<int> raw) {
  actors::queue<int> q;
  q.put(1); // qsize() then has something to count
  while (q.qsize() != 1) {
  }
  out.send(q);
  char b[4];
  while (read_n(raw.fileno(), b, 4) && write_n(raw.fileno(), b, 4)) {
  }
}

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  const bool quick = bench::quick();
  auto py = bench::run_python("mp_queue.py");
  std::vector<std::string> args;
  if (quick)
    args.push_back("--quick");
  const int n = quick ? 200'000 : 2'000'000;
  // Bounded queues move fewer items than 1p1c (Python's bounded queues are
  // slow), but enough that starting and joining the two processes (~15 ms)
  // is a small part of a round. Python's and Boost's use the same count.
  const int bounded_n = quick ? 100'000 : 400'000;
  args.push_back(std::to_string(n));
  args.push_back(std::to_string(bench::round_count()));
  args.push_back(std::to_string(bounded_n));
  auto others = bench::run_program(std::string(BENCH_BIN_DIR) + "/queue_peer_bench", args);

  // 4p4c first: the server's memory high-water mark after it shows that a
  // bounded queue keeps memory bounded (the unbounded 1p1c run may not).
  auto four = bench::measure([&] { return move_items(4, 4, n, 1000); });
  double rss = bench::status_mb(0, "VmHWM:");
  auto one = bench::measure([&] { return move_items(1, 1, n, 0); });
  std::map<std::string, double> peers;
  for (const char* key : {"zeromq", "boost_mq"})
    if (auto v = bench::lookup(others, key))
      peers[key] = *v;
  bench::emit("queue.1p1c", one, "items/s", bench::lookup(py, "1p1c"), std::nullopt, peers);
  bench::emit("queue.4p4c", four, "items/s", bench::lookup(py, "4p4c"), std::nullopt, {});
  bench::emit("queue.4p4c.server_peak_rss", rss, "MB", std::nullopt, std::nullopt);
  for (int maxsize : {64, 8}) {
    auto s = bench::measure(
      [&] { return move_items(1, 1, bounded_n, static_cast<std::uint64_t>(maxsize)); });
    std::map<std::string, double> bounded_peers;
    if (auto v = bench::lookup(others, "boost_mq.bounded" + std::to_string(maxsize)))
      bounded_peers["boost_mq"] = *v; // a message_queue with room for maxsize
    bench::emit("queue.bounded" + std::to_string(maxsize), s, "items/s",
                bench::lookup(py, "bounded" + std::to_string(maxsize)), std::nullopt,
                bounded_peers);
  }

  // 1 MiB items, 1 producer -> 1 consumer, beside the same processes moving
  // the same bytes over a bare socket; alternating rounds of the three:
  // raw, unbounded (the relay through the owner's server), bounded at 4 (the
  // shared-memory ring). Both queue lines carry the same raw.
  {
    // Enough items that starting the processes is a small part of a round
    // (with 32, it was most of it: 0.7 against 3.2 GiB/s for the ring).
    const int items = quick ? 128 : 256; // as Python's
    auto raw_round = [&] {
      return items * mib / gib / bench::seconds([&] {
        auto [a, b] = actors::pipe<int>();
        std::vector<actors::process> ps;
        ps.emplace_back(read_raw, b, items);
        ps.emplace_back(write_raw, a, items);
        a.close();
        b.close();
        run_all(ps, "raw bandwidth round");
      });
    };
    auto queue_round = [&](std::uint64_t maxsize) {
      return items * mib / gib / bench::seconds([&] {
        actors::queue<std::string> q(maxsize);
        std::vector<actors::process> ps;
        ps.emplace_back(consume_bytes, q, items);
        ps.emplace_back(produce_bytes, q, items);
        run_all(ps, "bandwidth round");
      });
    };
    auto three = bench::measure_each(
      {raw_round, [&] { return queue_round(0); }, [&] { return queue_round(4); }});
    bench::emit("queue.bandwidth.1MiB", three[1], "GiB/s",
                bench::lookup(py, "bandwidth_1mib_gibs"), three[0].median, {});
    bench::emit("queue.bandwidth.1MiB.bounded4", three[2], "GiB/s", std::nullopt,
                three[0].median, {});
  }

  // qsize() from this process to a queue served by a child, beside a bare
  // round trip of 4 bytes to the same child; alternating rounds.
  {
    auto [handle_in, handle_out] = actors::pipe<actors::queue<int>>();
    auto [raw_mine, raw_theirs] = actors::pipe<int>();
    actors::process owner(serve_queue, handle_out, raw_theirs);
    owner.start();
    handle_out.close();
    raw_theirs.close();
    auto q = handle_in.recv();
    int fd = raw_mine.fileno();
    char b[4] = {1, 2, 3, 4};
    bool ok = true;
    auto [raw, ours] = bench::per_call_pair(
      [&] { ok = ok && write_n(fd, b, 4) && read_n(fd, b, 4); },
      [&] { ok = ok && q.qsize() == 1; });
    raw_mine.close();
    owner.join();
    bench::check(ok, "queue.request_rtt");
    auto us = [](double s) { return s * 1e6; };
    bench::emit("queue.request_rtt", bench::map(ours, us), "us", std::nullopt, raw.median * 1e6, {});
  }
}
