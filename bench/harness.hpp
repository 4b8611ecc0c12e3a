#pragma once
// What every libactors benchmark shares: JSON lines in the project's format,
// the Python peer measured in the same run, and a timing loop.
//
//   {"bench": "process.start_join.fork", "value": 0.4, "unit": "ms",
//    "python": 4.5, "raw": 0.15}

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace bench {

/// Reads --quick from the command line. Call first.
void init(int argc, char** argv);

/// True when --quick was passed: every measurement runs for less time.
bool quick();

/// Prints one JSON line.
void emit(const std::string& name, double value, const std::string& unit,
          std::optional<double> python, std::optional<double> raw);

/// Runs `python3 bench/py/<script> [--quick]` and parses its output, lines of
/// "key value". Empty when python3 is missing or the script fails.
std::map<std::string, double> run_python(const std::string& script);

/// Looks a key up in run_python()'s answer.
std::optional<double> lookup(const std::map<std::string, double>& m, const std::string& key);

/// A memory figure of a process in MB, read from /proc/<pid>/status (pid 0:
/// this process), e.g. "VmRSS:" or "VmHWM:". -1 if it cannot be read.
double status_mb(int pid, const std::string& key);

/// The fastest of `rounds` runs of `body`, in seconds (each run timed whole).
double best_seconds(int rounds, const std::function<void()>& body);

/// Seconds per call of `body`: the median over 5 rounds, each running for
/// about a fifth of the time budget (0.1 s with --quick, 1 s otherwise).
double seconds_per_call(const std::function<void()>& body);

/// Like seconds_per_call, for two bodies measured in 11 alternating rounds,
/// so that both see the same noise on a shared machine. Returns {a, b}.
std::pair<double, double> seconds_per_call_pair(const std::function<void()>& a,
                                                const std::function<void()>& b);

} // namespace bench
