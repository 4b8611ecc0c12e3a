#include <actors/all.hpp>
#include <iostream>

void greet(std::string who, int times) {
  for (int i = 0; i < times; ++i)
    std::cout << "hello " << who << " from " << actors::current_process().name()
              << " (pid " << actors::current_process().pid() << ")\n";
}

int main() {
  actors::node node;                      // one node per OS process
  actors::process p(greet, "world", 2);   // arguments travel with Cereal
  p.start();
  p.join();
  std::cout << "exitcode " << *p.exitcode() << '\n';
}
