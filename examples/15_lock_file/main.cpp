// Seed 003, "Lock": two processes write one file, each inside the lock, one
// with a guard (Python's `with lock:`) and one with acquire/release. The file
// reads "hello world!" and the run takes about two task times.

#include <actors/all.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

void task1(actors::mutex lock, std::string f) {
  std::lock_guard<actors::mutex> hold(lock);
  std::ofstream out(f, std::ios::trunc);
  out << "hello ";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
}

void task2(actors::mutex lock, std::string f) {
  lock.acquire();
  try {
    std::ofstream out(f, std::ios::app);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    out << "world!";
  } catch (const std::exception& e) {
    std::cout << e.what() << '\n';
  }
  lock.release();
}

int main() {
  actors::node node;
  actors::mutex lock;
  std::string fn = "/tmp/actors-example-file-" + std::to_string(actors::current_process().pid());
  auto start = std::chrono::steady_clock::now();
  actors::process p1(task1, lock, fn), p2(task2, lock, fn);
  p1.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // task1 writes first, as in the seed's run
  p2.start();
  p1.join();
  p2.join();
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "time cost: " << s << " seconds" << std::endl;
  std::ifstream in(fn);
  std::string line;
  while (std::getline(in, line))
    std::cout << line << std::endl;
  std::remove(fn.c_str());
}
