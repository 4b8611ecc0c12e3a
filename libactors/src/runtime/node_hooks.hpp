#pragma once
// How a primitive family takes part in its node's life without the node
// knowing it: the family registers what it does at the node's turning points
// (libuv's handles register with their loop the same way). The node runs the
// hooks; it includes no primitive's header. Never installed.

namespace actors::detail {

/// What one primitive family does when its node stops, and in a fork()ed
/// child. Every member is optional. Hooks run in the order they were added.
struct node_hooks {
  /// First when the node stops, before anything else: wait for work this
  /// process still runs (Python's threading._shutdown()).
  void (*join)() noexcept = nullptr;
  /// Next: send what this process buffered, before its children are stopped.
  void (*flush)() noexcept = nullptr;
  /// Last, once the children ended and the actors stopped: stop serving.
  void (*stop)() noexcept = nullptr;
  /// In a fork()ed child (a fork child, or the fork server): forget the
  /// parent's state. Other threads of the parent do not exist there, so it
  /// must take no lock and touch no thread.
  void (*drop_inherited)() noexcept = nullptr;
};

/// Adds a family's hooks (thread-safe; at most 16 families). Call it once,
/// before the state it cleans up can exist: at the first object, or from a
/// static initializer.
void add_node_hooks(const node_hooks& hooks) noexcept;

/// Runs one kind of hook of every family: run_node_hooks(&node_hooks::flush).
void run_node_hooks(void (*node_hooks::*which)() noexcept) noexcept;

/// The cluster's worker main (cluster/gateway.cpp registers it from a static
/// initializer): joins the cluster that ACTORS_JOIN names, serves until the
/// link ends, then exits the process. The node's constructor calls
/// run_join_main() when ACTORS_JOIN is set; without a registered main (the
/// program never uses actors/cluster.hpp) it says so and exits with 2.
void set_join_main(void (*fn)()) noexcept;
[[noreturn]] void run_join_main() noexcept;

} // namespace actors::detail
