// Must not compile: the target's parameter type has no Cereal serialization.
#include <actors/process.hpp>

struct opaque {
  int x;
};

void target(opaque) {}

int main() {
  actors::process p(target, opaque{1});
}
