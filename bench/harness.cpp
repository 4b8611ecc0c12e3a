#include "harness.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

namespace bench {

namespace {

bool quick_flag = false;

std::string number(std::optional<double> v) {
  if (!v || !std::isfinite(*v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g", *v);
  return buf;
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
  std::cout << "{\"bench\": \"" << name << "\", \"value\": " << number(value)
            << ", \"unit\": \"" << unit << "\", \"python\": " << number(python)
            << ", \"raw\": " << number(raw) << "}" << std::endl;
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
