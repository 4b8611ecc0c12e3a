// Seed 000, "pooling": apply_async with get(timeout), map, imap with next()
// and next(timeout), and a task too slow for get(timeout = 1 s), which
// raises a timeout error as multiprocessing.TimeoutError does.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <numeric>
#include <thread>

using namespace std::chrono_literals;

int myfunction(int m) {
  return m * m;
}

void sleep_seconds(int s) {
  std::this_thread::sleep_for(std::chrono::seconds(s));
}

int main() {
  actors::node node;
  actors::pool my_pool(4); // start 4 worker processes
  auto result = my_pool.apply_async(myfunction, 10); // evaluate f(10) in one worker
  std::cout << result.get(1s) << '\n';

  std::vector<int> range10(10);
  std::iota(range10.begin(), range10.end(), 0);
  std::cout << "[";
  auto squares = my_pool.map(myfunction, range10); // [0, 1, 4, ..., 81]
  for (std::size_t i = 0; i < squares.size(); ++i)
    std::cout << (i ? ", " : "") << squares[i];
  std::cout << "]\n";

  auto my_it = my_pool.imap(myfunction, range10);
  std::cout << *my_it.next() << '\n';   // 0
  std::cout << *my_it.next() << '\n';   // 1
  std::cout << *my_it.next(1s) << '\n'; // 4, unless the machine is very slow

  auto slow = my_pool.apply_async(sleep_seconds, 10);
  try {
    slow.get(1s);
  } catch (const actors::timeout_error& e) {
    std::cout << "timeout_error: " << e.what() << '\n';
  }
  // Leaving the scope terminates the pool, the sleeping worker included.
}
