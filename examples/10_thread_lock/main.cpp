// Seed 002, threading part: threads with a target, a name, arguments and the
// daemon flag; start, join and is_alive; shared state guarded by a lock, and
// a recursive lock for a function that calls another one holding it. The
// twin of threading.Thread is actors::thread: an actor of this process's
// node, with the same lifecycle calls.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <thread>

namespace {

long balance = 0;

void deposit(actors::mutex lock, int times, int amount) {
  for (int i = 0; i < times; ++i) {
    std::lock_guard<actors::mutex> hold(lock);
    balance += amount;
  }
}

// A function that takes the lock and calls another one that takes it too:
// the reason for RLock.
void add_one(actors::recursive_mutex& lock) {
  std::lock_guard<actors::recursive_mutex> hold(lock);
  balance += 1;
}
void add_two(actors::recursive_mutex lock) {
  std::lock_guard<actors::recursive_mutex> hold(lock);
  add_one(lock);
  add_one(lock);
}

void background() {
  std::this_thread::sleep_for(std::chrono::hours(1));
}

} // namespace

int main() {
  actors::node node;
  actors::mutex lock;
  std::vector<actors::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back(deposit, lock, 10000, 1);
    workers.back().name("depositor-" + std::to_string(i)).start();
  }
  for (auto& w : workers) {
    w.join();
    std::cout << w.name() << " alive after join: " << std::boolalpha << w.is_alive() << '\n';
  }
  std::cout << "balance after 4 x 10000 locked deposits: " << balance << '\n';

  actors::recursive_mutex rlock;
  actors::thread twice(add_two, rlock);
  twice.start();
  twice.join();
  std::cout << "balance after a recursive add of 2: " << balance << '\n';

  actors::thread sub(background);
  sub.name("background").daemon(true); // ends with the main thread
  sub.start();
  std::cout << sub.name() << " is alive: " << sub.is_alive() << ", daemon: " << sub.daemon()
            << '\n';
  std::cout << "main program ends; the daemon thread is not waited for\n";
}
