#pragma once
// What every libactors benchmark shares: JSON lines in the project's format,
// the Python peer measured in the same run, and the timing loops.
//
//   {"bench": "process.start_join.fork", "value": 0.4, "min": 0.4, "max": 0.4,
//    "unit": "ms", "python": 4.5, "raw": 0.15, "peers": {}}
//
// Every line has the same keys. "value" is the median of the rounds, "min"
// and "max" the extreme rounds. "peers" holds the same job measured with
// other frameworks in this run (e.g. {"caf": 412.0}, from caf_peer_bench).
//
// How a figure is measured, on every side alike (libactors, the raw OS
// baseline, and the Python and framework peers): one untimed warm-up, then
// round_count() rounds, the median reported. Two sides that run in this
// program alternate their rounds, so both see the same noise.

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

/// Timed rounds after the warm-up: 3 with --quick, 7 otherwise. Odd, so the
/// median is one round's figure and survives a change of unit (see map).
int round_count();

/// Median, smallest and largest of a few rounds' figures.
struct stats {
  double median, min, max;
};

/// The stats of `figures` (not empty, else std::invalid_argument). The
/// median of an even count is the mean of the middle two.
stats summarize(std::vector<double> figures);

/// `s` in another unit: `f` applied to each figure. `f` must be monotonic
/// (a decreasing one, such as items / seconds, swaps min and max).
stats map(const stats& s, const std::function<double(double)>& f);

/// Calls `one_round` once untimed (the warm-up round), then round_count()
/// times; each call returns one figure.
stats measure(const std::function<double()>& one_round);

/// measure() for several sides in alternating rounds: a warm-up of each,
/// then a, b, c, a, b, c... Returns their stats in order.
std::vector<stats> measure_each(const std::vector<std::function<double()>>& sides);

/// measure_each() of two sides. Returns {a, b}.
std::pair<stats, stats> measure_pair(const std::function<double()>& a,
                                     const std::function<double()>& b);

/// `n` samples of `one_sample` (n >= 1, else std::invalid_argument), no
/// warm-up: for events that are each one figure (a restart, a death seen).
stats rounds(int n, const std::function<double()>& one_sample);

/// Seconds per call of `body`, measured as measure() does; a round calls
/// `body` for about 0.02 s (--quick) or 0.2 s, at least 3 times.
stats per_call(const std::function<void()>& body);

/// per_call() for two bodies in alternating rounds. Returns {a, b}.
std::pair<stats, stats> per_call_pair(const std::function<void()>& a,
                                      const std::function<void()>& b);

/// Seconds `body` takes, timed whole: the figure of one round.
double seconds(const std::function<void()>& body);

/// Prints one JSON line with min/max == value and no peers.
void emit(const std::string& name, double value, const std::string& unit,
          std::optional<double> python, std::optional<double> raw);

/// Prints one JSON line: value is s.median; "python"/"raw" are null when
/// missing; "peers" maps a framework's name to its figure ({} when empty);
/// `extra` adds keys after "peers" (e.g. {"p99": 61.0}).
void emit(const std::string& name, const stats& s, const std::string& unit,
          std::optional<double> python, std::optional<double> raw,
          const std::map<std::string, double>& peers,
          const std::map<std::string, double>& extra = {});

/// Runs `python3 bench/py/<script> --rounds <round_count()> [--quick]` and
/// parses its output, lines of "key value". Empty when python3 is missing or
/// the script fails.
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

} // namespace bench
