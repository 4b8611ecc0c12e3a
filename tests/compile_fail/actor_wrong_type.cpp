// Must not compile: the argument does not convert to the parameter.
#include <actors/actor.hpp>
#include <string>

struct counter {
  int add(int k) { return k; }
};

int main() {
  actors::actor<counter> c;
  c.tell(&counter::add, std::string("five"));
}
