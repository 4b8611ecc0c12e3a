// A program that forgets `actors::node`: it must get a clear error, not a crash.
#include <actors/all.hpp>
#include <iostream>

void noop() {}

int main() {
  try {
    actors::process p(noop);
    p.start();
  } catch (const actors::error& e) {
    std::cout << "caught actors::error (" << e.code().message() << "): " << e.what() << '\n';
    return e.value() == actors::errc::no_node ? 0 : 1;
  }
  return 1;
}
