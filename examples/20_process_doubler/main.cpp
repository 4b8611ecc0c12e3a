// Seed 004, "Process": one process per number, each doubling it.

#include <actors/all.hpp>
#include <iostream>
#include <unistd.h>

void doubler(int number) {
  int result = number * 2;
  std::cout << std::to_string(number) + " doubled to " + std::to_string(result)
                 + " by process id: " + std::to_string(::getpid()) + "\n"
            << std::flush;
}

int main() {
  actors::node node;
  std::vector<int> numbers{0, 1, 2};
  std::vector<actors::process> procs;
  for (int number : numbers) {
    procs.emplace_back(doubler, number);
    procs.back().start();
  }
  for (auto& proc : procs)
    proc.join();
}
