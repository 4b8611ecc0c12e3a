#pragma once
// What every libactors benchmark shares: JSON lines in the project's format,
// the Python peer measured in the same run, and a timing loop.
//
//   {"bench": "process.start_join.fork", "value": 0.4, "min": 0.4, "max": 0.4,
//    "unit": "ms", "python": 4.5, "raw": 0.15, "peers": {}}
//
// Every line has the same keys. "peers" holds the same job measured with
// other frameworks in this run (e.g. {"caf": 412.0}, from caf_peer_bench).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bench {

/// Throws std::runtime_error("<program>: wrong result in <what>") unless `ok`:
/// a benchmark whose work went wrong must not print a figure.
void check(bool ok, const std::string& what);

/// Reads --quick from the command line. Call first.
void init(int argc, char** argv);

/// True when --quick was passed: every measurement runs for less time.
bool quick();

/// Median, smallest and largest of a few rounds' figures.
struct stats {
  double median, min, max;
};

/// Calls `one_round` `n` times (n >= 1, else std::invalid_argument); each call
/// returns one figure. The median of an even count is the mean of the middle two.
stats rounds(int n, const std::function<double()>& one_round);

/// Prints one JSON line with min/max == value and no peers.
void emit(const std::string& name, double value, const std::string& unit,
          std::optional<double> python, std::optional<double> raw);

/// Prints one JSON line: value is s.median; "python"/"raw" are null when
/// missing; "peers" maps a framework's name to its figure ({} when empty).
void emit(const std::string& name, const stats& s, const std::string& unit,
          std::optional<double> python, std::optional<double> raw,
          const std::map<std::string, double>& peers);

/// Runs `python3 bench/py/<script> [--quick]` and parses its output, lines of
/// "key value". Empty when python3 is missing or the script fails.
std::map<std::string, double> run_python(const std::string& script);

/// Runs `path args...` (looked up on PATH when `path` has no slash), stdin and
/// stderr inherited, and parses its stdout, lines of "key value". --quick is
/// not added: pass it in `args`. Empty when the program cannot be started,
/// is killed by a signal or exits with a status other than 0.
std::map<std::string, double> run_program(const std::string& path,
                                          const std::vector<std::string>& args);

/// Looks a key up in run_python()'s or run_program()'s answer.
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
