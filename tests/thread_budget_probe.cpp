// The thread budget of a node (architecture.md, "Loops and threads"): a root
// process that uses a queue, two pools, a manager and an actors::thread runs
// at most one thread more than when it used only the actors::thread (the
// actor transport's inbound loop, which a root runs once it has children so
// they can reach its registry). The queue server, the flush timer, the pools'
// supervisors and the node's socket all share the service loop. A program of
// its own: a test process has run everything else already.

#include <actors/all.hpp>

#include <dirent.h>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

namespace {

int square(int x) {
  return x * x;
}

void wait_for(actors::event e) {
  e.wait();
}

std::map<std::string, int> threads() {
  std::map<std::string, int> names;
  DIR* d = ::opendir("/proc/self/task");
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.')
      continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    std::getline(f, name);
    ++names[name];
  }
  ::closedir(d);
  return names;
}

int count(const std::map<std::string, int>& names) {
  int n = 0;
  for (auto& [name, k] : names)
    n += k;
  return n;
}

void print(const char* what, const std::map<std::string, int>& names) {
  std::cout << what << ": " << count(names) << " threads:";
  for (auto& [name, k] : names)
    std::cout << ' ' << name << " x" << k;
  std::cout << '\n';
}

} // namespace

int main() {
  actors::node node;
  actors::event stop;
  actors::thread t(wait_for, stop);
  t.start();
  auto before = threads();
  print("an actors::thread", before);

  actors::queue<int> q;
  q.put(1);
  (void) q.get();
  actors::pool p1(2), p2(2);
  auto a = p1.map(square, std::vector<int>{1, 2, 3});
  auto b = p2.map(square, std::vector<int>{4, 5, 6});
  actors::manager m;
  auto list = m.list<int>();
  list.append(a[2] + b[0]);
  auto after = threads();
  print("+ a queue, two pools and a manager", after);

  stop.set();
  t.join();
  int extra = count(after) - count(before);
  std::cout << "extra threads: " << extra << " (budget 1)\n";
  return extra <= 1 && list.items() == std::vector<int>{25} ? 0 : 1;
}
