// Seed 001, part 1: one process with logging, join() and is_alive(), then a
// second one stopped with terminate().

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <thread>

void process_function(std::string name) {
  std::cout << "This is Sub-Process " << name << ": starting" << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::cout << "This is Sub-Process " << name << ": finishing" << std::endl;
}

void forever(std::string) {
  std::this_thread::sleep_for(std::chrono::hours(1));
}

int main() {
  actors::node node;
  actors::log::basic_config({"%(asctime)s: %(message)s", "%H:%M:%S"});

  actors::process p(process_function, "First");
  actors::log::info() << "Main-Process: before creating Process";
  p.start();
  actors::log::info() << "Main-Process: During Process...";
  actors::log::info() << "Main-Process: Joined Process";
  p.join();
  std::cout << "Process p is alive: " << std::boolalpha << p.is_alive() << std::endl;

  // Stopping a process that would run too long.
  actors::process q(forever, "Second");
  q.start();
  actors::log::info() << "Main-Process: Terminated Process:";
  q.terminate();
  q.join();
  std::cout << "Process q is alive: " << q.is_alive() << ", exitcode " << *q.exitcode()
            << std::endl;
}
