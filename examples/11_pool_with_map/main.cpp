// Seed 002, multiprocessing part: `with Pool(5) as p: print(p.map(f, input))`.
// A pool in a scope is Python's `with` block: leaving it stops the workers.

#include <actors/all.hpp>
#include <iostream>

int subprocess(int x) {
  return x * x + 1;
}

int main() {
  actors::node node;
  {
    actors::pool p(5);
    auto out = p.map(subprocess, std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
    std::cout << "[";
    for (std::size_t i = 0; i < out.size(); ++i)
      std::cout << (i ? ", " : "") << out[i];
    std::cout << "]\n";
  }
}
