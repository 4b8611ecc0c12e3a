// An actor in its own process: its members are its state, its methods its
// messages. tell is one-way, ask returns a future.
#include <actors/all.hpp>
#include <iostream>

struct counter {
  int n = 0;
  explicit counter(int start) : n(start) {}
  int add(int k) { return n += k; }
  int get() const { return n; }
};

int main() {
  actors::node node;
  auto c = actors::spawn<counter>(actors::in_new_process, 10);
  c.tell(&counter::add, 5);
  actors::future<int> f = c.ask(&counter::get);
  std::cout << f.get(std::chrono::seconds(1)) << '\n';  // 15
  auto local = actors::spawn<counter>(100);             // in this process
  std::cout << local.ask(&counter::add, 1).get() << '\n';  // 101
}
