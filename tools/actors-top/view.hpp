#pragma once
// What actors-top shows: one sample of a program (its main node, the nodes
// of its descendants, and /proc for each of its processes), and the text of
// each view, sorted. A rate (msgs/s, CPU%) needs two samples.

#include "procfs.hpp"

#include "runtime/stats.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace top {

/// One look at a program.
struct sample {
  int pid = 0; // its main process
  /// Its main node first, then the node of every descendant that runs one
  /// (a child that hosts actors, say) and answered.
  std::vector<actors::detail::node_stats> nodes;
  std::map<int, proc_info> procs; // the main process and its descendants
  std::chrono::steady_clock::time_point at;
};

/// Asks the main node at `endpoint`, then each descendant's node, and reads
/// /proc; nullopt if the main node does not answer within `timeout`.
std::optional<sample> take_sample(int pid, const std::string& endpoint,
                                  std::chrono::milliseconds timeout);

enum class view { actors, processes, other };
enum class sort_key { none, name, pid, depth, rate, restarts, cpu, rss };

/// Parses "name", "pid", "depth", "rate" (or "msgs"), "restarts", "cpu",
/// "rss" (or "mem"); nullopt for anything else.
std::optional<sort_key> parse_sort_key(const std::string& s);
const char* to_string(sort_key k);
const char* to_string(view v);

/// How a view is drawn: its rows sorted by `key` (numbers biggest first,
/// names and pids smallest first), or the other way round if `reverse`.
struct order {
  sort_key key = sort_key::none;
  bool reverse = false;
};

/// The title line and one view of `now`; `before` (may be null) gives rates.
std::string render(const sample& now, const sample* before, view which, order how);

/// The title line and every view, one after the other (batch mode).
std::string render_all(const sample& now, const sample* before, order how);

} // namespace top
