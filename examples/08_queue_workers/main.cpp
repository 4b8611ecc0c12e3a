// Seed 001, part 5.1: five workers count to 10000 each and put their totals
// on a queue; the parent adds them up until the end marker (the seed's
// 'exit', here an empty optional).

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>

void worker(int id, int base_num, actors::queue<std::optional<int>> q) {
  (void) id;
  int sub_total = 0;
  for (int i = 0; i < base_num; ++i)
    sub_total += 1;
  q.put(sub_total);
  auto me = actors::current_process();
  std::ostringstream out;
  out << "Process ID: " << me.pid() << " Process Name: " << me.name() << '\n'
      << "Result is: " << sub_total << '\n';
  std::cout << out.str() << std::flush;
}

int main() {
  actors::node node;
  std::cout << "Parent process ID: " << actors::current_process().pid() << std::endl;
  auto start = std::chrono::steady_clock::now();
  actors::queue<std::optional<int>> q;
  std::vector<actors::process> processes;
  for (int i = 0; i < 5; ++i) {
    processes.emplace_back(worker, i, 10000, q);
    processes.back().name(std::to_string(i)).start();
  }
  for (auto& p : processes)
    p.join();
  std::cout << "---- " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " seconds ----" << std::endl;
  q.put(std::nullopt); // the end marker
  long total = 0;
  while (auto tmp = q.get())
    total += *tmp;
  std::cout << "Main-Processing Total Count: " << total << std::endl;
  std::cout << "Multi process is Done!" << std::endl;
}
