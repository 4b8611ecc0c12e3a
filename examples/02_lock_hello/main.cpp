// Seed 000, "synchronization between processes": ten processes print through
// one lock, so only one of them writes to standard output at a time.

#include <actors/all.hpp>
#include <iostream>

void my_function(actors::mutex lock, int y) {
  std::lock_guard<actors::mutex> hold(lock);
  std::cout << "hello world " << y << std::endl;
}

int main() {
  actors::node node;
  actors::mutex lock;
  std::vector<actors::process> ps;
  for (int num = 0; num < 10; ++num) {
    ps.emplace_back(my_function, lock, num);
    ps.back().start();
  }
  for (auto& p : ps)
    p.join();
}
