// Seed 004, "Pool": three workers double the numbers 0..9; each prints the
// pid of the worker that did it.

#include <actors/all.hpp>
#include <iostream>
#include <numeric>
#include <unistd.h>

void doubler(int number) {
  int result = number * 2;
  std::cout << std::to_string(number) + " doubled to " + std::to_string(result)
                 + " by process id: " + std::to_string(::getpid()) + "\n"
            << std::flush;
}

int main() {
  actors::node node;
  actors::pool p(3);
  std::vector<int> numbers(10);
  std::iota(numbers.begin(), numbers.end(), 0);
  p.map(doubler, numbers, 1);
}
