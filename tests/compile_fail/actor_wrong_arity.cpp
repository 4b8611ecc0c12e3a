// Must not compile: the method takes one argument, two are given.
#include <actors/actor.hpp>

struct counter {
  int add(int k) { return k; }
};

int main() {
  actors::actor<counter> c;
  c.tell(&counter::add, 1, 2);
}
