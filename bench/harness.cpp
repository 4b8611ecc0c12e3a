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

std::string number(std::optional<double> v) {
  if (!v || !std::isfinite(*v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", *v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0"; // 412.0, not 412: every figure reads as a float
  return s;
}

// A JSON string literal; names are plain ASCII, but quotes and control
// characters must not break the line.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
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
          const std::map<std::string, double>& peers) {
  std::ostringstream line;
  line << "{\"bench\": " << quoted(name) << ", \"value\": " << number(s.median)
       << ", \"min\": " << number(s.min) << ", \"max\": " << number(s.max)
       << ", \"unit\": " << quoted(unit) << ", \"python\": " << number(python)
       << ", \"raw\": " << number(raw) << ", \"peers\": {";
  const char* sep = "";
  for (const auto& [peer, v] : peers) {
    line << sep << quoted(peer) << ": " << number(v);
    sep = ", ";
  }
  line << "}}";
  std::cout << line.str() << std::endl;
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
                    + (quick_flag ? " --quick" : "");
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p)
    return out;
  char line[256];
  while (std::fgets(line, sizeof line, p)) {
    std::istringstream in(line);
    std::string key;
    double value;
    if (in >> key >> value)
      out[key] = value;
  }
  ::pclose(p);
  return out;
}

std::optional<double> lookup(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? std::nullopt : std::optional<double>(it->second);
}

namespace {

// One round: calls `body` for about `budget` seconds (at least 3 times) and
// returns seconds per call.
double round_of(const std::function<void()>& body, double budget) {
  using clock = std::chrono::steady_clock;
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

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double round_budget() {
  return quick_flag ? 0.02 : 0.2;
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

double seconds_per_call(const std::function<void()>& body) {
  body(); // warm-up
  std::vector<double> rounds;
  for (int r = 0; r < 5; ++r)
    rounds.push_back(round_of(body, round_budget()));
  return median(rounds);
}

std::pair<double, double> seconds_per_call_pair(const std::function<void()>& a,
                                                const std::function<void()>& b) {
  a();
  b();
  std::vector<double> ra, rb;
  for (int r = 0; r < 11; ++r) { // more rounds: the pair must share the noise
    ra.push_back(round_of(a, round_budget()));
    rb.push_back(round_of(b, round_budget()));
  }
  return {median(ra), median(rb)};
}

stats rounds(int n, const std::function<double()>& one_round) {
  if (n < 1)
    throw std::invalid_argument("bench::rounds: n must be at least 1");
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v.push_back(one_round());
  std::sort(v.begin(), v.end());
  std::size_t mid = v.size() / 2;
  double med = v.size() % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return {med, v.front(), v.back()};
}

double best_seconds(int rounds, const std::function<void()>& body) {
  double best = 1e300;
  for (int i = 0; i < rounds; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

} // namespace bench
