// Supervision: how long a supervised child is away after it fails (a
// process child killed with SIGKILL, a local child whose tell throws),
// until its new instance answers an ask through the handle it had; and an
// actor pool's map of trivial asks beside the process pool's map with
// chunksize 1, measured in this run.

#include "harness.hpp"

#include <actors/all.hpp>

#include <chrono>
#include <csignal>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace {

struct worker {
  int pid() const { return ::getpid(); }
  int twice(int x) const { return 2 * x; }
  void crash() { throw std::runtime_error("crash"); }
};

int twice(int x) {
  return 2 * x;
}

using clock_type = std::chrono::steady_clock;

// Asks until the new instance (not `old_pid`) answers; the time it took.
double until_answered(const actors::actor<worker>& w, int old_pid, clock_type::time_point t0) {
  for (;;) {
    try {
      if (w.ask(&worker::pid).get(std::chrono::seconds(5)) != old_pid || old_pid == ::getpid())
        return std::chrono::duration<double>(clock_type::now() - t0).count();
    } catch (const actors::actor_died&) {
    }
    if (clock_type::now() - t0 > std::chrono::seconds(10))
      throw std::runtime_error("supervisor_bench: the child did not come back");
  }
}

using bench::check;

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  bool quick = bench::quick();
  auto many = actors::supervisor_options().intensity(1'000'000, std::chrono::seconds(1));

  // SIGKILL of a process child until its new instance answers an ask: with
  // a spare process ready (each round waits for it, untimed), and cold
  for (bool warm : {true, false}) {
    actors::set_spare_processes(warm ? 1 : 0);
    actors::supervisor sup(many);
    auto w = sup.spawn<worker>(actors::in_new_process, actors::child_spec("w"));
    auto s = bench::rounds(quick ? 5 : 15, [&] {
      int pid = w.ask(&worker::pid).get(std::chrono::seconds(5));
      if (warm && !actors::detail::await_spares(std::chrono::seconds(10)))
        throw std::runtime_error("supervisor_bench: no spare process became ready");
      auto t0 = clock_type::now();
      ::kill(pid, SIGKILL);
      return until_answered(w, pid, t0) * 1e3;
    });
    bench::emit(warm ? "supervisor.restart_process" : "supervisor.restart_process_cold", s, "ms",
                std::nullopt, std::nullopt, {});
    sup.stop();
  }
  actors::set_spare_processes(1);

  { // a local child's tell throws until it answers again
    actors::supervisor sup(many);
    auto w = sup.spawn<worker>(actors::child_spec("w"));
    auto s = bench::rounds(quick ? 21 : 101, [&] {
      auto t0 = clock_type::now();
      w.tell(&worker::crash);
      // Asks fail with actor_died until the new instance runs.
      return until_answered(w, ::getpid(), t0) * 1e6;
    });
    bench::emit("supervisor.restart_local", s, "us", std::nullopt, std::nullopt, {});
    sup.stop();
  }

  { // an actor pool's map beside pool.map(chunksize 1), both with 2 members
    std::vector<int> items(quick ? 100'000 : 1'000'000);
    std::iota(items.begin(), items.end(), 0);
    actors::actor_pool<worker> apool(2, actors::actor_pool_options());
    actors::pool pool(2);
    double n = static_cast<double>(items.size());
    auto [actor_rate, pool_rate] = bench::measure_pair(
      [&] {
        return n / bench::seconds([&] {
          auto fs = apool.map(&worker::twice, items);
          long sum = 0;
          for (auto& f : fs)
            sum += f.get();
          check(sum == static_cast<long>(items.size()) * (static_cast<long>(items.size()) - 1),
                "actor_pool.map");
        });
      },
      [&] {
        return n / bench::seconds([&] {
          auto out = pool.map(twice, items, 1);
          check(out.size() == items.size(), "pool.map");
        });
      });
    bench::emit("actor_pool.map", actor_rate, "items/s", std::nullopt, std::nullopt,
                {{"pool_map_chunksize1", pool_rate.median}});
    apool.stop();
  }
}
