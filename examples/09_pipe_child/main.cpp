// Seed 001, part 5.2: a child counts to 10000 and sends the result to its
// parent through a pipe.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>
#include <sstream>

void worker(std::string id, int base_num, actors::connection<int> conn) {
  (void) id;
  int sub_total = 0;
  for (int i = 0; i < base_num; ++i)
    sub_total += 1;
  conn.send(sub_total); // the child sends...
  conn.close();
  auto me = actors::current_process();
  std::ostringstream out;
  out << "Process ID: " << me.pid() << " Process Name: " << me.name() << '\n'
      << "Result is: " << sub_total << '\n';
  std::cout << out.str() << std::flush;
}

int main() {
  actors::node node;
  std::cout << "Parent process ID: " << actors::current_process().pid() << std::endl;
  auto start = std::chrono::steady_clock::now();
  auto [parent_conn, child_conn] = actors::pipe<int>();
  actors::process p(worker, "child", 10000, child_conn);
  p.name("child").start();
  p.join();
  std::cout << "---- " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " seconds ----" << std::endl;
  std::cout << "Main-Processing Total Count: " << parent_conn.recv() << std::endl; // ...the parent receives
  std::cout << "Multi process is Done!" << std::endl;
}
