// Must not compile: the method belongs to another class than the actor's.
#include <actors/actor.hpp>

struct counter {
  int get() const { return 0; }
};
struct other {
  int get() const { return 1; }
};

int main() {
  actors::actor<counter> c;
  c.ask(&other::get);
}
