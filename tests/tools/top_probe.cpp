// A program for actors-top's tests, watched while it waits.
//   top_probe pool       a pool of 2 workers busy with 8 long jobs
//   top_probe processes  one child process and nothing else (no queue, pool,
//                        thread or manager: no control endpoint unless
//                        ACTORS_CONTROL=on)
// It prints "ready" once the jobs or the child run, then waits for SECONDS
// (the second argument, default 10) and exits.
#include <actors/all.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

int main(int argc, char** argv) {
  actors::node node;
  std::string mode = argc > 1 ? argv[1] : "";
  auto seconds = std::chrono::seconds(argc > 2 ? std::stoi(argv[2]) : 10);
  if (mode == "pool") {
    actors::pool pool(2);
    std::vector<decltype(pool.apply_async(sleep_ms, 0))> jobs;
    for (int i = 0; i < 8; ++i)
      jobs.push_back(pool.apply_async(sleep_ms, 60000));
    sleep_ms(300); // the workers take their first jobs
    std::cout << "ready" << std::endl;
    std::this_thread::sleep_for(seconds);
    pool.terminate();
    return 0;
  }
  if (mode == "processes") {
    actors::process child(sleep_ms, static_cast<int>(seconds.count() * 1000));
    child.start();
    std::cout << "ready" << std::endl;
    child.join();
    return 0;
  }
  std::cerr << "usage: top_probe pool|processes [SECONDS]\n";
  return 2;
}
