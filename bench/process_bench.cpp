// Process start -> join of a no-op target, per start method, beside Python's
// multiprocessing and the bare OS costs (fork+wait, fork+exec of this
// program); and the resident memory of an idle child.
//
// This program deliberately links nothing but libactors: spawn executes it
// again for every child, and a heavier program (Google Benchmark's library is
// BIND_NOW, thousands of relocations) would add ~1 ms to every exec and
// measure the benchmark harness instead of libactors.

#include "harness.hpp"

#include <actors/all.hpp>

#include <chrono>
#include <cstring>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace {

void noop() {}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

void start_join(actors::start_method m) {
  actors::process p(noop);
  p.method(m);
  p.start();
  p.join();
  if (p.exitcode() != 0) {
    std::fprintf(stderr, "process_bench: child failed\n");
    std::exit(1);
  }
}

void raw_fork_wait() {
  int pid = ::fork();
  if (pid == 0)
    _exit(0);
  int st;
  ::waitpid(pid, &st, 0);
}

// fork+exec of this very program, which exits at the top of main().
void raw_fork_exec() {
  int pid = ::fork();
  if (pid == 0) {
    char arg0[] = "process_bench", arg1[] = "--exit-now";
    char* argv[] = {arg0, arg1, nullptr};
    ::execv("/proc/self/exe", argv);
    _exit(127);
  }
  int st;
  ::waitpid(pid, &st, 0);
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--exit-now") == 0)
    return 0; // the raw fork+exec baseline
  actors::node node;
  bench::init(argc, argv);

  auto py = bench::run_python("mp_process.py");
  using actors::start_method;
  auto ms = [](double s) { return s * 1e3; };
  for (auto m : {start_method::forkserver, start_method::spawn, start_method::fork}) {
    // the bare OS cost of the same job, in alternating rounds
    auto [raw, ours] = bench::per_call_pair(m == start_method::spawn ? raw_fork_exec : raw_fork_wait,
                                            [m] { start_join(m); });
    bench::emit(std::string("process.start_join.") + actors::to_string(m), bench::map(ours, ms),
                "ms", bench::lookup(py, actors::to_string(m)), ms(raw.median), {});
  }

  // An idle child: a forkserver child sleeping in its target.
  actors::process idle(sleep_ms, 2000);
  idle.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double rss = bench::status_mb(idle.pid(), "VmRSS:");
  idle.kill();
  idle.join();
  bench::emit("process.idle_rss", rss, "MB", bench::lookup(py, "idle_rss"), std::nullopt);
}
