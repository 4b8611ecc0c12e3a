// Seed 001, part 4: nine processes add 50 each to a shared value. The seed's
// `v.value += 1` loses updates and printed 400; fetch_add is one atomic step
// in shared memory, so the total is exactly 450.

#include <actors/all.hpp>
#include <iostream>
#include <sstream>

void generate_update_number(actors::value<int> v) {
  for (int i = 0; i < 50; ++i)
    v.fetch_add(1);
  std::ostringstream line;
  line << actors::current_process().name() << " data " << v.load() << '\n';
  std::cout << line.str() << std::flush;
}

int main() {
  actors::node node;
  std::cout << "Parent process ID: " << actors::current_process().pid() << std::endl;
  actors::value<int> share_value(0);
  std::vector<actors::process> processes;
  for (int i = 1; i < 10; ++i) {
    processes.emplace_back(generate_update_number, share_value);
    processes.back().start();
  }
  for (auto& p : processes)
    p.join();
  std::cout << "Final Data in parent process: " << share_value.load() << std::endl;
}
