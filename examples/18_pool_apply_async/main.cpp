// Seed 003, "Pool": ten tasks on four workers with apply_async, close() and
// join(); then their results collected; then the same with map().

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <numeric>
#include <thread>

std::string task(int msg) {
  std::cout << "hello, " + std::to_string(msg) + "\n" << std::flush;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return "msg: " + std::to_string(msg);
}

int main() {
  actors::node node;
  {
    auto start = std::chrono::steady_clock::now();
    actors::pool pool(4);
    std::vector<actors::async_result<std::string>> results;
    for (int x = 0; x < 10; ++x)
      results.push_back(pool.apply_async(task, x));
    pool.close();
    pool.join();
    std::cout << "processes done, in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " seconds. result:" << std::endl;
    for (auto& r : results)
      std::cout << r.get() << std::endl;
  }
  {
    actors::pool pool(4);
    std::vector<int> msgs(10);
    std::iota(msgs.begin(), msgs.end(), 0);
    auto results = pool.map(task, msgs);
    pool.close();
    pool.join();
    std::cout << "map done, result:" << std::endl;
    for (auto& r : results)
      std::cout << r << std::endl;
  }
}
