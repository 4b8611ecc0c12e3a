// The libactors demo: what `tools/run-demo` runs.
//
// A fan-out of worker processes, one per start method and then some, each
// squaring its number and logging who it is; one worker fails with an
// exception and one hangs and is terminated; a nested worker starts its own
// child. The parent reports every exit code at the end.
//
// Pool and Queue arrive with their own issues; until then results travel in
// exit codes, and the demo shows the process layer that everything else is
// built on.

#include <actors/all.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <thread>

using namespace std::chrono_literals;

namespace {

void square(int n) {
  std::this_thread::sleep_for(100ms);
  actors::log::info() << "pid " << actors::current_process().pid() << " squares " << n
                      << " -> " << n * n;
  throw actors::system_exit(n * n); // the exit code carries the result
}

void broken(std::string why) {
  throw std::invalid_argument(why);
}

void hang() {
  std::this_thread::sleep_for(1h);
}

void supervisor(int n) {
  actors::log::info() << "supervisor starts its own worker";
  actors::process child(square, n);
  child.start();
  child.join();
  actors::log::info() << child.name() << " answered " << *child.exitcode();
  throw actors::system_exit(*child.exitcode());
}

} // namespace

int main() {
  actors::node node;
  actors::log::basic_config({"%(asctime)s [%(processName)s] %(message)s", "%H:%M:%S"});
  actors::log::info() << "main process " << actors::current_process().pid() << " on "
                      << actors::cpu_count() << " CPUs";

  std::vector<actors::process> workers;
  const actors::start_method methods[] = {actors::start_method::forkserver,
                                          actors::start_method::spawn,
                                          actors::start_method::fork};
  for (int n = 1; n <= 6; ++n) {
    workers.emplace_back(square, n);
    workers.back().method(methods[n % 3]);
  }
  workers.emplace_back(broken, "bad input on purpose");
  workers.emplace_back(hang).name("hanger");
  workers.emplace_back(supervisor, 11).name("supervisor");

  auto t0 = std::chrono::steady_clock::now();
  for (auto& w : workers)
    w.start();
  actors::log::info() << actors::active_children().size() << " children running";

  auto& hanger = workers[7];
  if (!hanger.join(300ms)) {
    actors::log::info() << "hanger still alive after 300 ms: terminate()";
    hanger.terminate();
  }
  for (auto& w : workers)
    w.join();
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);

  std::cout << "\n  " << std::left << std::setw(12) << "process" << std::setw(12) << "method"
            << "exitcode\n";
  for (auto& w : workers)
    std::cout << "  " << std::setw(12) << w.name() << std::setw(12)
              << actors::to_string(w.method()) << *w.exitcode() << '\n';
  int sum = 0;
  for (int i = 0; i < 6; ++i)
    sum += *workers[i].exitcode();
  std::cout << "\nsum of squares 1..6 = " << sum << " (expected 91), all done in "
            << static_cast<int>(ms.count()) << " ms\n";
  return sum == 91 ? 0 : 1;
}
