// Topology: a supervision tree.
//
//   root (one_for_one, this process)
//    +-- supervisor-A (one_for_one) --+-- worker A1, A2, A3   (each in its own process)
//    +-- supervisor-B (one_for_one) --+-- worker B1, B2, B3
//
// Each worker must finish 20 units of work, one per ask; after a unit it
// crashes with probability 1/4 (abort(), so its process dies by SIGABRT).
// Its supervisor starts a new process, and the root's next ask, through
// the same handle, reaches it. A restarted worker starts again from its
// constructor's arguments: the count of units done lives in a shared
// value, outside the worker, so it carries on where it left off. The root
// checks that all work was done exactly once.

#include <actors/all.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>
#include <unistd.h>

constexpr int workers_per_supervisor = 3;
constexpr int units = 20;

struct worker {
  actors::value<int> done;
  std::mt19937 rng;
  worker(actors::value<int> d, unsigned seed) : done(d), rng(seed + unsigned(::getpid())) {}

  // One unit of work; then, at random, a crash.
  int unit() {
    if (done.load() < units) {
      done.fetch_add(1);
      if (rng() % 4 == 0)
        std::abort();
    }
    return done.load();
  }
};

int main() {
  actors::node node;
  std::cout.setf(std::ios::unitbuf);
  actors::supervisor root(actors::supervisor_options().name("root"));
  struct branch {
    actors::supervisor sup;
    std::vector<actors::value<int>> progress;
    std::vector<actors::actor<worker>> workers;
  };
  std::vector<branch> tree;
  for (std::string name : {"supervisor-A", "supervisor-B"}) {
    // A crash is expected often here: up to 50 restarts in 5 s before the
    // branch gives up (OTP's default is 1).
    auto sup = root.supervise(actors::child_spec(name),
                              actors::supervisor_options().intensity(50, std::chrono::seconds(5)));
    branch b{sup, {}, {}};
    for (int i = 0; i < workers_per_supervisor; ++i) {
      b.progress.emplace_back(0);
      auto id = std::string(1, name.back()) + std::to_string(i + 1); // A1, A2...
      b.workers.push_back(sup.spawn<worker>(actors::in_new_process, actors::child_spec(id),
                                            b.progress.back(), unsigned(i)));
    }
    tree.push_back(std::move(b));
  }

  // Ask every worker for units until each has done its 20.
  bool working = true;
  while (working) {
    working = false;
    for (auto& b : tree)
      for (auto& w : b.workers) {
        try {
          if (w.ask(&worker::unit).get(std::chrono::seconds(10)) < units)
            working = true;
        } catch (const actors::actor_died&) {
          working = true; // it crashed: its supervisor is starting a new one
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      }
  }

  int total_restarts = 0, total_units = 0;
  for (auto& b : tree) {
    int done = 0;
    for (auto& p : b.progress)
      done += p.load();
    int restarts = static_cast<int>(b.sup.restarts());
    std::cout << b.sup.name() << ": " << restarts << " restarts, " << done << " units done\n";
    total_restarts += restarts;
    total_units += done;
  }
  for (auto& c : tree[0].sup.children())
    if (c.last_exit) { // why the first worker that crashed ended last
      std::cout << "a worker's last exit: " << c.last_exit->describe() << '\n';
      break;
    }
  root.stop(); // children first (last started first), then the root
  std::cout << "tree: " << total_restarts << " restarts in all, " << total_units
            << " units of work (expected " << 2 * workers_per_supervisor * units << ")\n";
  return total_units == 2 * workers_per_supervisor * units && total_restarts > 0 ? 0 : 1;
}
