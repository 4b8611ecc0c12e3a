// Seed 003, "Semaphore": eight processes, at most two at a time in the
// guarded part, so the run takes about four task times.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <sstream>
#include <thread>

constexpr auto task_time = std::chrono::milliseconds(250);

void task(actors::semaphore s, int msg) {
  s.acquire();
  std::ostringstream line;
  line << "hello, " << msg << '\n';
  std::cout << line.str() << std::flush;
  std::this_thread::sleep_for(task_time);
  s.release();
}

int main() {
  actors::node node;
  actors::semaphore s(2);
  std::vector<actors::process> processes;
  for (int x = 0; x < 8; ++x)
    processes.emplace_back(task, s, x);
  auto start = std::chrono::steady_clock::now();
  for (auto& p : processes)
    p.start();
  for (auto& p : processes)
    p.join();
  auto elapsed = std::chrono::steady_clock::now() - start;
  std::cout << "8 process takes " << std::chrono::duration<double>(elapsed).count()
            << " seconds, " << elapsed / task_time << " task times" << std::endl;
}
