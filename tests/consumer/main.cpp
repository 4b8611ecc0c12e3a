#include <actors/all.hpp>

void work(int n) {
  if (n != 7)
    throw actors::system_exit(3);
}

int main() {
  actors::node node;
  actors::process p(work, 7);
  p.start();
  p.join();
  return *p.exitcode();
}
