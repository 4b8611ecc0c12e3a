#include "procfs.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <unistd.h>

namespace top {

namespace {

bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

} // namespace

std::map<int, std::string> find_nodes() {
  std::map<int, std::string> found;
  DIR* d = ::opendir("/tmp");
  if (!d)
    return found;
  while (auto* e = ::readdir(d)) {
    int pid = 0;
    char rest[64];
    if (std::sscanf(e->d_name, "actors-%d-%63s", &pid, rest) != 2 || pid <= 0)
      continue;
    if (::kill(pid, 0) != 0)
      continue;
    std::string path = std::string("/tmp/") + e->d_name + "/node.sock";
    if (exists(path))
      found[pid] = path; // one node per pid
  }
  ::closedir(d);
  return found;
}

std::optional<proc_info> read_proc(int pid) {
  auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  // pid (comm) state ppid ... utime stime: comm may hold spaces and ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest(stat.substr(close + 1));
  std::vector<std::string> f((std::istream_iterator<std::string>(rest)),
                             std::istream_iterator<std::string>());
  if (f.size() < 13)
    return std::nullopt;
  proc_info p;
  p.pid = pid;
  p.ppid = std::atoi(f[1].c_str());                                   // field 4
  p.cpu_ticks = std::strtoull(f[11].c_str(), nullptr, 10)             // field 14: utime
                + std::strtoull(f[12].c_str(), nullptr, 10);          // field 15: stime
  p.comm = name_of(pid);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0)
      p.rss_kb = std::strtoull(line.c_str() + 6, nullptr, 10);
  return p;
}

double ticks_per_second() {
  static const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return hz > 0 ? hz : 100.0;
}

std::map<int, int> parents() {
  std::map<int, int> out;
  DIR* d = ::opendir("/proc");
  if (!d)
    return out;
  while (auto* e = ::readdir(d)) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0)
      continue;
    auto stat = read_all("/proc/" + std::to_string(pid) + "/stat");
    auto close = stat.rfind(')');
    int ppid = 0;
    char state = 0;
    if (close != std::string::npos
        && std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) == 2)
      out[pid] = ppid;
  }
  ::closedir(d);
  return out;
}

std::vector<int> family(int pid, const std::map<int, int>& parents) {
  std::set<int> in{pid};
  bool grew = true;
  while (grew) { // a process tree is shallow: a few passes
    grew = false;
    for (auto& [child, parent] : parents)
      if (in.count(parent) && in.insert(child).second)
        grew = true;
  }
  std::vector<int> out{pid};
  for (int p : in)
    if (p != pid)
      out.push_back(p);
  return out;
}

bool has_ancestor_in(int pid, const std::map<int, std::string>& set,
                     const std::map<int, int>& parents) {
  for (int hops = 0; hops < 64; ++hops) {
    auto it = parents.find(pid);
    if (it == parents.end() || it->second <= 1)
      return false;
    pid = it->second;
    if (set.count(pid))
      return true;
  }
  return false;
}

int pid_of_tid(long tid) {
  std::ifstream status("/proc/" + std::to_string(tid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Tgid:", 0) == 0)
      return std::atoi(line.c_str() + 5);
  return 0;
}

std::string command_of(int pid) {
  auto all = read_all("/proc/" + std::to_string(pid) + "/cmdline");
  while (!all.empty() && all.back() == '\0')
    all.pop_back();
  std::replace(all.begin(), all.end(), '\0', ' ');
  if (!all.empty())
    return all;
  auto name = name_of(pid);
  return name == "?" ? name : "[" + name + "]";
}

std::string program_of(int pid) {
  auto all = read_all("/proc/" + std::to_string(pid) + "/cmdline");
  std::string argv0 = all.substr(0, all.find('\0'));
  auto slash = argv0.rfind('/');
  if (slash != std::string::npos)
    argv0 = argv0.substr(slash + 1);
  return argv0.empty() ? name_of(pid) : argv0;
}

std::string name_of(int pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "?" : name;
}

} // namespace top
