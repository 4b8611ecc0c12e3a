// Seed 003, "a single process": start a task, report it while it runs, wait.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <thread>

void task(std::string msg) {
  std::cout << "hello, " << msg << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(1));
}

int main() {
  actors::node node;
  actors::process p(task, "world");
  p.start();
  if (p.is_alive())
    std::cout << "Process: " << p.pid() << " is running" << std::endl;
  p.join();
}
