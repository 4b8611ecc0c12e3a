// Must not compile: the task takes an int, a string is given.
#include <actors/all.hpp>

#include <string>

int square(int x) { return x * x; }

int main() {
  actors::node node;
  actors::pool pool(2);
  pool.apply(square, std::string("seven"));
}
