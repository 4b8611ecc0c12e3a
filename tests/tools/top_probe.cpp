// A program for actors-top's tests, watched while it waits.
//   top_probe pool       a pool of 2 workers busy with 8 long jobs
//   top_probe processes  one child process and nothing else (no queue, pool,
//                        thread or manager: no control endpoint unless
//                        ACTORS_CONTROL=on)
//   top_probe actors     an actor here (busy-1) and one in a new process
//                        (busy-2), each with a mailbox of 5000 messages of
//                        2 ms each (about 10 s of work), and no queue, pool
//                        or thread; busy-1 is marked as restarted 3 times by
//                        a supervisor sup-1
// It prints "ready" once the jobs or the child run, then waits for SECONDS
// (the second argument, default 10) and exits.
#include <actors/all.hpp>

#include "actor/cell.hpp" // set_supervision

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

struct busy {
  int done = 0;
  void work(int ms) {
    sleep_ms(ms);
    ++done;
  }
};

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
  if (mode == "actors") {
    auto here = actors::spawn<busy>();
    auto there = actors::spawn<busy>(actors::in_new_process);
    // As a supervisor records it: busy-1 is under sup-1, restarted 3 times.
    actors::detail::set_supervision(*actors::detail::handle_access::ref(here)->local, "sup-1", 3);
    for (int i = 0; i < 5000; ++i) {
      here.tell(&busy::work, 2);
      there.tell(&busy::work, 2);
    }
    std::cout << "ready" << std::endl;
    std::this_thread::sleep_for(seconds);
    return 0; // the node stops both actors, full mailboxes or not
  }
  std::cerr << "usage: top_probe pool|processes|actors [SECONDS]\n";
  return 2;
}
