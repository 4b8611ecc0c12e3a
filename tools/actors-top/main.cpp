// actors-top: attaches to a running libactors program through its node's
// control endpoint and shows, refreshed like top, its child processes,
// queues (typed mailboxes), pools, threads (in-process actors) and locks.

#include <actors/detail/stats.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

// The control sockets of running libactors programs: pid -> path.
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
    std::string path = std::string("/tmp/") + e->d_name + "/node.sock";
    if (::access(path.c_str(), F_OK) == 0 && ::kill(pid, 0) == 0)
      found[pid] = path; // the newest listing wins; one node per pid
  }
  ::closedir(d);
  return found;
}

// The process a thread id belongs to.
int pid_of_tid(long tid) {
  std::ifstream status("/proc/" + std::to_string(tid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("Tgid:", 0) == 0)
      return std::stoi(line.substr(5));
  return 0;
}

// What `ps` would call the process: its command line (arguments joined by
// spaces), or its /proc/<pid>/comm name if the command line is unreadable.
std::string command_of(int pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string all((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  while (!all.empty() && all.back() == '\0')
    all.pop_back();
  std::replace(all.begin(), all.end(), '\0', ' ');
  if (!all.empty())
    return all;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "?" : "[" + name + "]";
}

// The short name of the process (/proc/<pid>/comm).
std::string name_of(int pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.empty() ? "?" : name;
}

// What to tell a user whose program actors-top cannot see.
const char* control_hint =
  "a libactors program opens its control endpoint with its first queue, pool, thread or "
  "manager; one that only starts processes opens none unless run with ACTORS_CONTROL=on";

volatile std::sig_atomic_t quit = 0;
extern "C" void on_signal(int) {
  quit = 1;
}

std::string render(const actors::detail::node_stats& s, const actors::detail::node_stats* before,
                   double dt) {
  using std::setw;
  std::ostringstream out;
  out << std::left << "actors-top: pid " << s.pid << " (" << s.name << "), up "
      << std::fixed << std::setprecision(1) << s.uptime << " s\n\n";
  out << "PROCESSES " << s.children.size() << "\n  " << setw(22) << "name" << setw(9) << "pid"
      << setw(12) << "state" << setw(12) << "method" << "daemon\n";
  for (auto& c : s.children)
    out << "  " << setw(22) << c.name << setw(9) << c.pid << setw(12)
        << (c.alive ? "running" : "exit " + std::to_string(c.exitcode)) << setw(12) << c.method
        << (c.daemon ? "yes" : "no") << '\n';
  out << "\nQUEUES (mailboxes) " << s.queues.size() << "\n  " << setw(6) << "id" << setw(10)
      << "items" << setw(10) << "maxsize" << setw(12) << "puts/s" << setw(12) << "gets/s"
      << setw(10) << "getters" << setw(10) << "putters" << "conns\n";
  for (auto& q : s.queues) {
    // A rate needs two samples: n/a on the first one (and for a new queue).
    std::string puts = "n/a", gets = "n/a";
    if (before && dt > 0)
      for (auto& b : before->queues)
        if (b.id == q.id) {
          puts = std::to_string(std::llround(static_cast<double>(q.puts - b.puts) / dt));
          gets = std::to_string(std::llround(static_cast<double>(q.gets - b.gets) / dt));
        }
    out << "  " << setw(6) << q.id << setw(10) << q.items << setw(10)
        << (q.maxsize ? std::to_string(q.maxsize) : "-") << setw(12)
        << puts << setw(12) << gets << setw(10)
        << q.waiting_getters << setw(10) << q.waiting_putters << q.connections << '\n';
  }
  out << "\nPOOLS " << s.pools.size() << "\n  " << setw(9) << "workers" << setw(10)
      << "queued" << setw(10) << "running" << setw(12) << "done" << setw(10) << "restarts"
      << "pids\n";
  for (auto& p : s.pools) {
    out << "  " << setw(9) << p.size << setw(10) << p.queued << setw(10) << p.running
        << setw(12) << p.done << setw(10) << p.restarts;
    for (int w : p.workers)
      out << w << ' ';
    out << '\n';
  }
  out << "\nTHREADS (actors) " << s.threads.size() << "\n  " << setw(22) << "name" << setw(10)
      << "tid" << setw(10) << "state" << "daemon\n";
  for (auto& t : s.threads)
    out << "  " << setw(22) << t.name << setw(10) << t.tid << setw(10)
        << (t.alive ? "running" : "done") << (t.daemon ? "yes" : "no") << '\n';
  out << "\nLOCKS " << s.locks.size() << "\n  " << setw(18) << "kind" << "holder\n";
  for (auto& l : s.locks) {
    out << "  " << setw(18) << l.kind;
    if (l.holder_tid == 0)
      out << "free\n";
    else
      out << "thread " << l.holder_tid << " of pid "
          << (l.holder_pid ? std::to_string(l.holder_pid) : std::string("? (gone)")) << '\n';
  }
  return out.str();
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"actors-top: watches a running libactors program: its processes, queues, pools, "
               "threads and locks, refreshed like top"};
  int pid = 0;
  bool once = false, list = false;
  double interval = 1.0;
  app.add_option("pid", pid, "the program's main process (default: the only one running)");
  app.add_flag("--once", once, "print one snapshot and exit");
  app.add_flag("--list", list, "list the running libactors programs and exit");
  app.add_option("--interval", interval, "seconds between refreshes")->check(CLI::Range(0.1, 60.0));
  CLI11_PARSE(app, argc, argv);

  auto nodes = find_nodes();
  if (list) {
    if (nodes.empty())
      std::cerr << "actors-top: no libactors program with a control endpoint is running ("
                << control_hint << ")\n";
    else
      std::cout << std::left << std::setw(9) << "pid" << std::setw(17) << "name" << "command\n";
    for (auto& [p, path] : nodes)
      std::cout << std::left << std::setw(9) << p << std::setw(17) << name_of(p) << command_of(p)
                << '\n';
    return 0;
  }
  if (pid == 0) {
    if (nodes.size() != 1) {
      if (nodes.empty())
        std::cerr << "actors-top: no libactors program with a control endpoint is running ("
                  << control_hint << ")\n";
      else
        std::cerr << "actors-top: " << nodes.size()
                  << " libactors programs are running; name one by pid (see --list)\n";
      return 2;
    }
    pid = nodes.begin()->first;
  }
  auto it = nodes.find(pid);
  if (it == nodes.end()) {
    if (::kill(pid, 0) != 0 && errno == ESRCH)
      std::cerr << "actors-top: no process has pid " << pid << " (see --list)\n";
    else
      std::cerr << "actors-top: pid " << pid << " (" << name_of(pid)
                << ") has no libactors control endpoint: it is not a libactors program's main "
                   "process, or it has not opened the endpoint yet ("
                << control_hint << ")\n";
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::optional<actors::detail::node_stats> before;
  auto last = std::chrono::steady_clock::now();
  bool tty = ::isatty(STDOUT_FILENO) && !once;
  while (!quit) {
    auto s = actors::detail::query_stats(it->second, std::chrono::seconds(2));
    if (!s) {
      std::cerr << "actors-top: pid " << pid << " stopped answering (it exited)\n";
      return once ? 1 : 0;
    }
    for (auto& l : s->locks)
      if (l.holder_tid)
        l.holder_pid = pid_of_tid(l.holder_tid);
    auto now = std::chrono::steady_clock::now();
    double dt = std::chrono::duration<double>(now - last).count();
    std::cout << (tty ? "\x1b[H\x1b[2J" : "") << render(*s, before ? &*before : nullptr, dt)
              << std::flush;
    if (once)
      return 0;
    before = std::move(s);
    last = now;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
  return 0;
}
