// Topology: a supervisor tree.
//
//   root (this process)
//    +-- supervisor-A --+-- worker A1, A2, A3
//    +-- supervisor-B --+-- worker B1, B2, B3
//
// Each worker must finish 20 units of work; after each unit it crashes with
// probability 1/4 (abort(), so it dies by SIGABRT). A supervisor restarts a
// crashed worker where it left off (the count of done units lives in a
// shared value) and reports its restarts to the root through a queue. The
// root checks that all work was done exactly once.

#include <actors/all.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>

constexpr int workers_per_supervisor = 3;
constexpr int units = 20;

struct report {
  std::string supervisor;
  int restarts = 0;
  int units_done = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(supervisor, restarts, units_done);
  }
};

void worker(actors::value<int> done, unsigned seed) {
  std::mt19937 rng(seed);
  while (done.load() < units) {
    done.fetch_add(1); // one unit of work
    if (rng() % 4 == 0)
      std::abort();    // a crash, at random
  }
}

void supervisor(std::string name, actors::queue<report> to_root, unsigned seed) {
  std::vector<actors::value<int>> progress;
  std::vector<actors::process> children;
  for (int i = 0; i < workers_per_supervisor; ++i) {
    progress.emplace_back(0);
    children.emplace_back(worker, progress.back(), seed + 100u * static_cast<unsigned>(i));
    children.back().start();
  }
  std::vector<bool> finished(children.size(), false);
  int restarts = 0;
  while (std::count(finished.begin(), finished.end(), false) > 0) {
    std::vector<actors::waitable> running;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < children.size(); ++i)
      if (!finished[i]) {
        running.emplace_back(children[i]);
        which.push_back(i);
      }
    for (auto k : actors::wait(running)) { // the children that exited
      auto i = which[k];
      children[i].join();
      if (*children[i].exitcode() == 0) {
        finished[i] = true;
        continue;
      }
      ++restarts; // crashed: a fresh worker carries on from the shared progress
      children[i] = actors::process(worker, progress[i], seed + 1000u * static_cast<unsigned>(restarts));
      children[i].start();
    }
  }
  int done = 0;
  for (auto& p : progress)
    done += p.load();
  to_root.put({name, restarts, done});
}

int main() {
  actors::node node;
  std::cout.setf(std::ios::unitbuf);
  actors::queue<report> reports;
  std::vector<actors::process> supervisors;
  for (std::string name : {"supervisor-A", "supervisor-B"}) {
    supervisors.emplace_back(supervisor, name, reports, name == "supervisor-A" ? 1u : 2u);
    supervisors.back().name(name).start();
  }
  int total_restarts = 0, total_units = 0;
  for (std::size_t i = 0; i < supervisors.size(); ++i) {
    auto r = reports.get(std::chrono::seconds(60));
    std::cout << r.supervisor << ": " << r.restarts << " restarts, " << r.units_done
              << " units done\n";
    total_restarts += r.restarts;
    total_units += r.units_done;
  }
  for (auto& s : supervisors)
    s.join();
  std::cout << "tree: " << total_restarts << " restarts in all, " << total_units
            << " units of work (expected " << 2 * workers_per_supervisor * units << ")\n";
  return total_units == 2 * workers_per_supervisor * units && total_restarts > 0 ? 0 : 1;
}
