// Seed 003, "several processes": three tasks at once, the CPU count, the
// active children, and the time they took together (about one task's time).

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

void say(const char* who, const std::string& msg) {
  std::ostringstream line;
  line << who << ": hello, " << msg << '\n';
  std::cout << line.str() << std::flush;
  std::this_thread::sleep_for(std::chrono::seconds(1));
}
void task1(std::string msg) { say("task1", msg); }
void task2(std::string msg) { say("task2", msg); }
void task3(std::string msg) { say("task3", msg); }

int main() {
  actors::node node;
  actors::process p1(task1, "one"), p2(task2, "two"), p3(task3, "three");
  auto start = std::chrono::steady_clock::now();
  p1.start();
  p2.start();
  p3.start();
  std::cout << "The number of CPU is:" << actors::cpu_count() << std::endl;
  for (auto& p : actors::active_children())
    std::cout << "child p.name: " << p.name() << "\tp.id: " << p.pid() << std::endl;
  p1.join();
  p2.join();
  p3.join();
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "3 processes take " << s << " seconds" << std::endl;
}
