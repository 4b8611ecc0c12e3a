// Must not compile: a lambda with captures cannot be found again in a child.
#include <actors/process.hpp>

int main() {
  int local = 1;
  actors::process p([local](int) { (void) local; }, 2);
}
