// Seed 001, part 2: nine named processes square a number each and print
// their pid and name.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

void square(int n) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto me = actors::current_process();
  std::ostringstream line; // one write per line: the nine do not interleave
  line << "Process ID: " << me.pid() << ", Process name: " << me.name()
       << ", result is: " << n * n << '\n';
  std::cout << line.str() << std::flush;
}

int main() {
  actors::node node;
  std::cout << "Parent process id: " << actors::current_process().pid() << std::endl;
  std::vector<actors::process> processes;
  for (int i = 1; i < 10; ++i) {
    processes.emplace_back(square, i);
    processes.back().name("name" + std::to_string(i)).start();
  }
  for (auto& p : processes)
    p.join();
  std::cout << "parent process is done" << std::endl;
}
