// actors-run: runs a topology described in a TOML file (queues, pipes,
// groups of processes and in-process actors, each with a built-in role),
// shows a live view while it runs, and stops everything cleanly on Ctrl-C.
// The file format is in docs/tools.md; examples/topologies/ has samples.

#include "runner.hpp"
#include "topology.hpp"

#include <actors/all.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>
#include <unistd.h>

using namespace actors_run;

int main(int argc, char** argv) {
  actors::node node;
  CLI::App app{"actors-run: runs a libactors topology described in a TOML file, with a live "
               "view of its processes, actors and queues"};
  std::string file;
  bool print_dot = false, no_view = false;
  int interval_ms = 500;
  std::optional<int> seconds;
  app.add_option("file", file, "the topology file (see docs/tools.md)")->required();
  app.add_flag("--dot", print_dot, "print the topology as Graphviz and exit");
  app.add_flag("--no-view", no_view, "no live view; print the summary at the end");
  app.add_option("--interval", interval_ms, "live view refresh, in milliseconds")
    ->check(CLI::Range(50, 60000));
  app.add_option("--duration", seconds, "stop everything after this many seconds")
    ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<file_error> errors;
  auto parsed = parse(file, errors);
  if (!parsed) {
    for (auto& e : errors)
      std::cerr << file << ":" << e.line << ": " << e.message << '\n';
    std::cerr << "actors-run: " << errors.size() << (errors.size() == 1 ? " mistake" : " mistakes")
              << " in " << file << "; nothing was started\n";
    return 2;
  }
  auto& topo = *parsed;
  if (print_dot) {
    std::cout << dot(topo);
    return 0;
  }
  std::signal(SIGINT, on_sigint);
  bool view = !no_view && ::isatty(STDOUT_FILENO);
  runner r(topo, view, std::chrono::milliseconds(interval_ms));
  std::optional<std::chrono::seconds> duration;
  if (seconds)
    duration = std::chrono::seconds(*seconds);
  try {
    return r.run(duration);
  } catch (const actors::error& e) {
    std::cerr << "actors-run: " << e.what() << '\n';
    return 1;
  }
}
