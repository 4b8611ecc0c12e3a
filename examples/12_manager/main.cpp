// Seed 002, the rest of its multiprocessing list: a daemon process with
// current_process(), is_alive(), terminate() and join(), and a Manager whose
// list, dict and lock processes share.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <thread>

void record(actors::managed_list<int> squares, actors::managed_dict<std::string, int> by_name,
            actors::managed_lock lock, int n) {
  std::lock_guard<actors::managed_lock> hold(lock);
  squares.append(n * n);
  by_name.set(actors::current_process().name(), n * n);
}

void idle() {
  std::this_thread::sleep_for(std::chrono::hours(1));
}

int main() {
  actors::node node;
  actors::process worker(idle);
  worker.daemon(true); // ends with the main process
  worker.start();
  std::cout << "current process: " << actors::current_process().name() << '\n';
  std::cout << "worker is alive: " << std::boolalpha << worker.is_alive() << '\n';
  worker.terminate();
  worker.join();
  std::cout << "worker after terminate: alive " << worker.is_alive() << ", exitcode "
            << *worker.exitcode() << '\n';

  actors::manager manager;
  auto squares = manager.list<int>();
  auto by_name = manager.dict<std::string, int>();
  auto lock = manager.lock();
  std::vector<actors::process> ps;
  for (int n = 1; n <= 5; ++n) {
    ps.emplace_back(record, squares, by_name, lock, n);
    ps.back().name("squarer-" + std::to_string(n)).start();
  }
  for (auto& p : ps)
    p.join();
  auto all = squares.items();
  std::sort(all.begin(), all.end());
  std::cout << "manager list:";
  for (int v : all)
    std::cout << ' ' << v;
  std::cout << "\nmanager dict: " << by_name.size() << " entries, squarer-3 -> "
            << by_name.get("squarer-3") << '\n';
}
