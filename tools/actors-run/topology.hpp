// topology.hpp (private to actors-run): the topology file. What it
// describes (queues, pipes, groups of processes and actors, supervisors),
// parse(), which reads and checks it and reports every mistake with its
// line, and dot(), which draws it for Graphviz.

#pragma once

#include "role.hpp"

#include <actors/all.hpp>

#include <optional>
#include <string>
#include <vector>

namespace actors_run {

// -- the topology file -------------------------------------------------------------

struct channel_spec {
  std::string name;
  bool is_pipe = false;
  std::uint64_t maxsize = 0;
  int line = 0;
};

struct group_spec {
  std::string name;
  bool in_process = false; // an actor (thread) in actors-run, not a process
  role_config role;
  std::string input, output;
  int replicas = 1;
  bool restart = false;
  // Under a supervisor (actors only): the supervisor restarts it, by
  // `restart_type`, and it runs in a process of its own or in actors-run.
  std::string supervisor;
  actors::restart restart_type = actors::restart::permanent;
  bool own_process = false;
  int line = 0;
};

/// A [supervisors.NAME] table: an actors::supervisor, a root or nested
/// under `parent`.
struct supervisor_spec {
  std::string name;
  actors::strategy strategy = actors::strategy::one_for_one;
  int intensity = 1;
  double period = 5.0; // seconds
  std::string parent;  // empty: a root
  actors::restart restart = actors::restart::permanent; // as its parent's child
  int line = 0;
};

struct topology {
  std::vector<channel_spec> channels;
  std::vector<group_spec> groups;
  std::vector<supervisor_spec> supervisors;

  const supervisor_spec* supervisor(const std::string& name) const {
    for (auto& s : supervisors)
      if (s.name == name)
        return &s;
    return nullptr;
  }
  /// One child of a supervisor: a nested supervisor or an actor group.
  struct child {
    const supervisor_spec* sup = nullptr;
    const group_spec* group = nullptr;
    int line() const { return sup ? sup->line : group->line; }
    const std::string& name() const { return sup ? sup->name : group->name; }
  };
  /// The children of supervisor `name`, in the order of the file, which is
  /// the order they start in (rest_for_one restarts the later ones).
  std::vector<child> children_of(const std::string& name) const {
    std::vector<child> out;
    for (auto& s : supervisors)
      if (s.parent == name)
        out.push_back({&s, nullptr});
    for (auto& g : groups)
      if (g.supervisor == name)
        out.push_back({nullptr, &g});
    std::stable_sort(out.begin(), out.end(),
                     [](const child& a, const child& b) { return a.line() < b.line(); });
    return out;
  }
};

const char* strategy_name(actors::strategy s);

const char* restart_name(actors::restart r);

/// A mistake in the file, with the line it is on.
struct file_error {
  int line;
  std::string message;
};

/// The topology in `path`, or nothing and every mistake in it, in line
/// order, in `errors`. (toml++ stops at the first syntax error.)
std::optional<topology> parse(const std::string& path, std::vector<file_error>& errors);

/// The topology as a Graphviz digraph (--dot).
std::string dot(const topology& t);

} // namespace actors_run
