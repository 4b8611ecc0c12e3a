// A listener and its clients with an authkey (Python's
// multiprocessing.connection.Listener and Client): a worker that knows the
// key sends its result; one with the wrong key is refused at both ends.
#include <actors/all.hpp>

#include <iostream>
#include <string>

using namespace std::chrono_literals;

void worker(std::string address, std::string key, int n) {
  try {
    auto c = actors::client<int>(address, key, 10s);
    c.send(n * n);
  } catch (const actors::authentication_error&) {
    throw actors::system_exit(3);
  }
}

int main() {
  actors::node node;
  actors::listener<int> server("", "secret"); // a fresh path in a private directory

  actors::process good(worker, server.address(), std::string("secret"), 7);
  good.start();
  auto c = server.accept(10s);
  std::cout << "result from the worker: " << c.recv(10s) << '\n';
  good.join();

  actors::process bad(worker, server.address(), std::string("guess"), 8);
  bad.start();
  try {
    (void) server.accept(10s);
  } catch (const actors::authentication_error& e) {
    std::cout << "refused: " << e.what() << '\n';
  }
  bad.join();
  std::cout << "the worker with the wrong key exited with " << *bad.exitcode() << '\n';
}
