#include "harness.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace bench {

void check(bool ok, const std::string& what) {
  if (!ok)
    throw std::runtime_error(program_invocation_short_name + std::string(": wrong result in ") + what);
}

namespace {

bool quick_flag = false;

// A figure as printed: 4 significant digits (more would be noise), null
// when it is not a number.
nlohmann::ordered_json figure(double v) {
  if (!std::isfinite(v))
    return nullptr;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return std::strtod(buf, nullptr);
}

// The library writes every key and value; the line keeps the project's
// spacing ({"bench": "x", "value": 1.0}), which dump() has no option for.
std::string one_line(const nlohmann::ordered_json& j) {
  if (!j.is_object())
    return j.dump();
  std::string out = "{";
  const char* sep = "";
  for (const auto& [key, v] : j.items()) {
    out += sep;
    out += nlohmann::ordered_json(key).dump() + ": " + one_line(v);
    sep = ", ";
  }
  return out + "}";
}

// Parses lines of "key value"; other lines are skipped.
void parse_pairs(const std::string& text, std::map<std::string, double>& out) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string key;
    double value;
    if (in >> key >> value)
      out[key] = value;
  }
}

} // namespace

void init(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0)
      quick_flag = true;
}

bool quick() {
  return quick_flag;
}

void emit(const std::string& name, double value, const std::string& unit,
          std::optional<double> python, std::optional<double> raw) {
  emit(name, stats{value, value, value}, unit, python, raw, {});
}

void emit(const std::string& name, const stats& s, const std::string& unit,
          std::optional<double> python, std::optional<double> raw,
          const std::map<std::string, double>& peers,
          const std::map<std::string, double>& extra) {
  nlohmann::ordered_json line;
  line["bench"] = name;
  line["value"] = figure(s.median);
  line["min"] = figure(s.min);
  line["max"] = figure(s.max);
  line["unit"] = unit;
  line["python"] = python ? figure(*python) : nullptr;
  line["raw"] = raw ? figure(*raw) : nullptr;
  line["peers"] = nlohmann::ordered_json::object();
  for (const auto& [peer, v] : peers)
    line["peers"][peer] = figure(v);
  for (const auto& [key, v] : extra)
    line[key] = figure(v);
  std::cout << one_line(line) << std::endl;
}

std::map<std::string, double> run_program(const std::string& path,
                                          const std::vector<std::string>& args) {
  std::map<std::string, double> out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return out;
  std::vector<std::string> words;
  words.reserve(args.size() + 1);
  words.push_back(path);
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words)
    argv.push_back(w.data());
  argv.push_back(nullptr);
  // dup2 onto stdout clears O_CLOEXEC there; the pipe's own fds close on exec.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::cout.flush(); // nothing buffered may reach the child's output twice
  std::fflush(stdout);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return out;
  }
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0)
      text.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(fds[0]);
  int status = 0;
  pid_t w;
  do
    w = ::waitpid(pid, &status, 0);
  while (w < 0 && errno == EINTR);
  // ECHILD: someone else reaped it (a SIGCHLD reaper); trust its output then.
  bool ok = w == pid ? WIFEXITED(status) && WEXITSTATUS(status) == 0 : errno == ECHILD;
  if (ok)
    parse_pairs(text, out);
  return out;
}

std::map<std::string, double> run_python(const std::string& script) {
  std::map<std::string, double> out;
  std::string cmd = "command -v python3 >/dev/null 2>&1 && python3 " BENCH_DIR "/py/" + script
                    + " --rounds " + std::to_string(round_count()) + (quick_flag ? " --quick" : "");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p)
    return out;
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    text.append(buf, n);
  ::pclose(p);
  parse_pairs(text, out);
  return out;
}

std::optional<double> lookup(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::nullopt : std::optional<double>(it->second);
}

namespace {

// One round: calls `body` for about the round budget (at least 3 times) and
// returns seconds per call.
double round_of(const std::function<void()>& body) {
  using clock = std::chrono::steady_clock;
  const double budget = quick_flag ? 0.02 : 0.2;
  long n = 0;
  auto t0 = clock::now();
  double elapsed = 0;
  do {
    body();
    ++n;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  } while (elapsed < budget || n < 3);
  return elapsed / static_cast<double>(n);
}

} // namespace

double status_mb(int pid, const std::string& key) {
  std::ifstream in(pid ? "/proc/" + std::to_string(pid) + "/status" : "/proc/self/status");
  std::string word;
  while (in >> word) {
    if (word == key) {
      double kb;
      in >> kb;
      return kb / 1024.0;
    }
    in.ignore(1 << 10, '\n');
  }
  return -1;
}

int round_count() {
  return quick_flag ? 3 : 7;
}

stats summarize(std::vector<double> figures) {
  if (figures.empty())
    throw std::invalid_argument("bench::summarize: no figures");
  std::sort(figures.begin(), figures.end());
  std::size_t mid = figures.size() / 2;
  double med = figures.size() % 2 ? figures[mid] : (figures[mid - 1] + figures[mid]) / 2;
  return {med, figures.front(), figures.back()};
}

stats map(const stats& s, const std::function<double(double)>& f) {
  double a = f(s.min), b = f(s.max);
  return {f(s.median), std::min(a, b), std::max(a, b)};
}

stats measure(const std::function<double()>& one_round) {
  one_round();
  std::vector<double> v;
  for (int i = 0; i < round_count(); ++i)
    v.push_back(one_round());
  return summarize(std::move(v));
}

std::vector<stats> measure_each(const std::vector<std::function<double()>>& sides) {
  for (auto& side : sides)
    side();
  std::vector<std::vector<double>> v(sides.size());
  for (int i = 0; i < round_count(); ++i)
    for (std::size_t k = 0; k < sides.size(); ++k)
      v[k].push_back(sides[k]());
  std::vector<stats> out;
  for (auto& figures : v)
    out.push_back(summarize(std::move(figures)));
  return out;
}

std::pair<stats, stats> measure_pair(const std::function<double()>& a,
                                     const std::function<double()>& b) {
  auto both = measure_each({a, b});
  return {both[0], both[1]};
}

stats rounds(int n, const std::function<double()>& one_sample) {
  if (n < 1)
    throw std::invalid_argument("bench::rounds: n must be at least 1");
  std::vector<double> v;
  for (int i = 0; i < n; ++i)
    v.push_back(one_sample());
  return summarize(std::move(v));
}

stats per_call(const std::function<void()>& body) {
  return measure([&] { return round_of(body); });
}

std::pair<stats, stats> per_call_pair(const std::function<void()>& a,
                                      const std::function<void()>& b) {
  return measure_pair([&] { return round_of(a); }, [&] { return round_of(b); });
}

double seconds(const std::function<void()>& body) {
  auto t0 = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace bench
