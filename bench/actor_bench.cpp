// Actors: ask round trip and tell flood across processes (also at a
// bounded mailbox), local asks,
// spawning, idle memory and how fast a death is seen. Each beside its
// peer measured in the same run: a libactors pipe round trip (the raw
// baseline for an ask) and CAF itself (caf_peer_bench: the middleman
// between two processes, and local actors), as a CAF user would write it.

#include "harness.hpp"

#include <actors/all.hpp>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>
#include <unistd.h>

namespace {

struct counter {
  long n = 0;
  long add(long k) { return n += k; }
  void bump(long k) { n += k; }
  long get() const { return n; }
};

void echo(actors::connection<int> c) {
  try {
    for (;;)
      c.send(c.recv());
  } catch (const actors::eof_error&) {
  }
}

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  const bool quick = bench::quick();
  std::vector<std::string> args;
  if (quick)
    args.push_back("--quick");
  args.push_back("--rounds");
  args.push_back(std::to_string(bench::round_count()));
  auto caf = bench::run_program(std::string(BENCH_BIN_DIR) + "/caf_peer_bench", args);
  auto peer = [&](const char* key) {
    std::map<std::string, double> m;
    if (auto v = bench::lookup(caf, key))
      m["caf"] = *v;
    return m;
  };

  // ask round trip across processes, one outstanding, beside a pipe's
  {
    auto c = actors::spawn<counter>(actors::in_new_process);
    c.ask(&counter::get).get();
    auto [mine, theirs] = actors::pipe<int>();
    actors::process p(echo, theirs);
    p.start();
    theirs.close();
    auto [raw, s] = bench::per_call_pair(
      [&] {
        mine.send(1);
        mine.recv();
      },
      [&] { c.ask(&counter::add, 1L).get(); });
    mine.close();
    p.join();
    auto us = [](double sec) { return sec * 1e6; };
    bench::emit("actor.ask_rtt", bench::map(s, us), "us", std::nullopt, us(raw.median),
                peer("middleman_rtt_us"));
  }

  // tell flood across processes: n tells, then one ask (all ran by then);
  // the same at a bounded mailbox (1000, on_full::block), where the sender
  // takes a place per tell and gets room back as the actor runs them
  auto flood = [&](const actors::actor<counter>& c) {
    const long n = quick ? 200000 : 1000000;
    return bench::measure([&] {
      auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < n; ++i)
        c.tell(&counter::bump, 1L);
      c.ask(&counter::get).get();
      return n / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    });
  };
  bench::emit("actor.tell", flood(actors::spawn<counter>(actors::in_new_process)), "msgs/s",
              std::nullopt, std::nullopt, peer("middleman_tell_per_s"));
  bench::emit("actor.tell_bounded",
              flood(actors::spawn<counter>(actors::in_new_process.mailbox(1000))), "msgs/s",
              std::nullopt, std::nullopt, {});

  // ask in one process, from a non-actor thread
  {
    auto c = actors::spawn<counter>();
    auto s = bench::per_call([&] { c.ask(&counter::add, 1L).get(); });
    bench::emit("actor.ask_local", bench::map(s, [](double sec) { return sec * 1e6; }), "us", std::nullopt, std::nullopt, peer("local_ask_us"));
  }

  // spawning an actor in a new process: with a spare process ready (the
  // node keeps one; each round waits, untimed, until it is ready again), and
  // cold (no spares: a process and its runtime start per spawn)
  for (bool warm : {true, false}) {
    actors::set_spare_processes(warm ? 1 : 0);
    const int n = quick ? 10 : 40;
    auto s = bench::measure([&] {
      std::vector<actors::actor<counter>> made;
      double ms = 0;
      for (int i = 0; i < n; ++i) {
        if (warm && !actors::detail::await_spares(std::chrono::seconds(10)))
          throw std::runtime_error("actor_bench: no spare process became ready");
        auto t0 = std::chrono::steady_clock::now();
        made.push_back(actors::spawn<counter>(actors::in_new_process));
        ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      }
      for (auto& a : made)
        ::kill(a.pid(), SIGKILL);
      return ms / n;
    });
    bench::emit(warm ? "actor.spawn_process" : "actor.spawn_process_cold", s, "ms", std::nullopt,
                std::nullopt, {});
  }
  actors::set_spare_processes(1);

  // spawning in this process
  {
    // As the CAF peer does: each round's actors are stopped, and the next
    // round starts once they have finished stopping (untimed), so their
    // teardown on the scheduler's threads does not overlap the spawns timed.
    const int n = quick ? 2000 : 20000;
    const auto base = actors::detail::live_actor_count();
    auto s = bench::measure([&] {
      std::vector<actors::actor<counter>> made;
      made.reserve(n);
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i)
        made.push_back(actors::spawn<counter>());
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
      for (auto& a : made)
        actors::stop(a);
      made.clear();
      auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (actors::detail::live_actor_count() > base && std::chrono::steady_clock::now() < limit)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      bench::check(actors::detail::live_actor_count() <= base, "actor.spawn_local: actors did not stop");
      return us;
    });
    bench::emit("actor.spawn_local", s, "us", std::nullopt, std::nullopt, peer("spawn_local_us"));
  }

  // idle actors: resident memory per actor (in a fresh child, so the
  // earlier rounds' memory does not count)
  {
    auto [mine, theirs] = actors::pipe<double>();
    actors::process p(
      +[](actors::connection<double> out, int n) {
        std::vector<actors::actor<counter>> made;
        made.reserve(n);
        made.push_back(actors::spawn<counter>()); // the runtime itself is not counted
        double before = bench::status_mb(0, "VmRSS:");
        for (int i = 1; i < n; ++i)
          made.push_back(actors::spawn<counter>());
        double after = bench::status_mb(0, "VmRSS:");
        out.send((after - before) * 1024 * 1024 / (n - 1));
      },
      theirs, quick ? 10000 : 100000);
    p.start();
    theirs.close();
    auto bytes = mine.try_recv(std::chrono::seconds(60));
    p.join(std::chrono::seconds(30));
    if (bytes)
      bench::emit("actor.idle_bytes", bench::stats{*bytes, *bytes, *bytes}, "bytes/actor",
                  std::nullopt, std::nullopt, peer("idle_bytes_per_actor"));
  }

  // SIGKILL -> monitor callback
  {
    auto s = bench::rounds(quick ? 3 : 5, [&] {
      auto c = actors::spawn<counter>(actors::in_new_process);
      std::mutex m;
      std::condition_variable cv;
      bool seen = false;
      std::chrono::steady_clock::time_point at;
      actors::monitor(c, [&](const actors::down&) {
        std::lock_guard<std::mutex> l(m);
        at = std::chrono::steady_clock::now();
        seen = true;
        cv.notify_all();
      });
      c.ask(&counter::get).get();
      auto t0 = std::chrono::steady_clock::now();
      ::kill(c.pid(), SIGKILL);
      std::unique_lock<std::mutex> l(m);
      cv.wait_for(l, std::chrono::seconds(5), [&] { return seen; });
      return seen ? std::chrono::duration<double, std::milli>(at - t0).count() : 5000.0;
    });
    bench::emit("actor.down_latency", s, "ms", std::nullopt, std::nullopt, {});
  }
}
