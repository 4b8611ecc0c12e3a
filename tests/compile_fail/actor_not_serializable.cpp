// Must not compile: a parameter of the method cannot cross a process.
#include <actors/actor.hpp>

struct opaque {
  int* p = nullptr;
};

struct store {
  void keep(opaque) {}
};

int main() {
  actors::actor<store> s;
  s.ask(&store::keep, opaque{});
}
