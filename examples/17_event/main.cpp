// Seed 003, "Event": one process waits for the event without a timeout, the
// other with one that expires first; the parent sets the event later.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

void say(const std::string& text) {
  std::cout << text + "\n" << std::flush;
}

void task1(actors::event e, int msg) {
  say("task1 is waiting...");
  e.wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::ostringstream s;
  s << "hello, " << msg << ", e.is_set(): " << std::boolalpha << e.is_set();
  say(s.str());
}

void task2(actors::event e, int seconds) {
  say("task2 is waiting...");
  e.wait(std::chrono::seconds(seconds)); // gives up before the event is set
  std::ostringstream s;
  s << "hello, " << seconds << ", e.is_set(): " << std::boolalpha << e.is_set();
  say(s.str());
}

int main() {
  actors::node node;
  actors::event e;
  actors::process p1(task1, e, 1), p2(task2, e, 1);
  p1.start();
  p2.start();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  e.set();
  say("main: event is set");
  p1.join();
  p2.join();
}
