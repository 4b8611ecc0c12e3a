// Must not compile: the target takes two arguments, one is given.
#include <actors/process.hpp>

void target(int, int) {}

int main() {
  actors::process p(target, 1);
}
