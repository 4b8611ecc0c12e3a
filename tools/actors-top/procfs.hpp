#pragma once
// What actors-top reads from the machine rather than from a node: the
// control sockets under /tmp, and each process's parent, name, CPU time and
// resident memory under /proc.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace top {

/// The control endpoints of running libactors nodes (node.sock), by pid.
std::map<int, std::string> find_nodes();

/// One process as /proc shows it.
struct proc_info {
  int pid = 0, ppid = 0;
  std::string comm;             // /proc/<pid>/comm
  std::uint64_t cpu_ticks = 0;  // user + system time, in clock ticks
  std::uint64_t rss_kb = 0;     // VmRSS
};

/// /proc/<pid>/stat and status; nullopt once the process is gone.
std::optional<proc_info> read_proc(int pid);

/// Clock ticks per second (for cpu_ticks).
double ticks_per_second();

/// Every process of the machine: pid -> parent pid.
std::map<int, int> parents();

/// `pid` first, then every process that descends from it, by pid.
std::vector<int> family(int pid, const std::map<int, int>& parents);

/// Whether an ancestor of `pid` is in `set`.
bool has_ancestor_in(int pid, const std::map<int, std::string>& set,
                     const std::map<int, int>& parents);

/// The process a thread id belongs to; 0 if it is gone.
int pid_of_tid(long tid);

/// What `ps` would call the process: its command line (arguments joined by
/// spaces), or [comm] if the command line is unreadable.
std::string command_of(int pid);

/// The program's name: the last part of argv[0], or its comm.
std::string program_of(int pid);

/// The short name of the process (/proc/<pid>/comm), "?" if it is gone.
std::string name_of(int pid);

} // namespace top
