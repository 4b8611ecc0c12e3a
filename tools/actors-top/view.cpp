#include "view.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>

namespace top {

using actors::detail::actor_stats;
using actors::detail::node_stats;

std::optional<sample> take_sample(int pid, const std::string& endpoint,
                                  std::chrono::milliseconds timeout) {
  auto main = actors::detail::query_stats(endpoint, timeout);
  if (!main)
    return std::nullopt;
  sample s;
  s.pid = pid;
  s.at = std::chrono::steady_clock::now();
  for (auto& l : main->locks)
    if (l.holder_tid)
      l.holder_pid = pid_of_tid(l.holder_tid);
  s.nodes.push_back(std::move(*main));
  // Each child that hosts actors runs its own node, with its own socket:
  // ask every descendant that has one (children of children too).
  auto tree = parents();
  auto sockets = find_nodes();
  for (int p : family(pid, tree)) {
    if (auto info = read_proc(p))
      s.procs[p] = *info;
    auto it = sockets.find(p);
    if (p == pid || it == sockets.end())
      continue;
    if (auto child = actors::detail::query_stats(it->second, timeout))
      s.nodes.push_back(std::move(*child));
  }
  return s;
}

std::optional<sort_key> parse_sort_key(const std::string& s) {
  for (auto k : {sort_key::none, sort_key::name, sort_key::pid, sort_key::depth, sort_key::rate,
                 sort_key::restarts, sort_key::cpu, sort_key::rss})
    if (s == to_string(k))
      return k;
  if (s == "msgs")
    return sort_key::rate;
  if (s == "mem")
    return sort_key::rss;
  return std::nullopt;
}

const char* to_string(sort_key k) {
  switch (k) {
    case sort_key::none: return "none";
    case sort_key::name: return "name";
    case sort_key::pid: return "pid";
    case sort_key::depth: return "depth";
    case sort_key::rate: return "rate";
    case sort_key::restarts: return "restarts";
    case sort_key::cpu: return "cpu";
    case sort_key::rss: return "rss";
  }
  return "?";
}

const char* to_string(view v) {
  switch (v) {
    case view::actors: return "actors";
    case view::processes: return "processes";
    case view::other: return "queues, pools, threads, locks";
  }
  return "?";
}

namespace {

using std::setw;

double seconds_between(const sample& now, const sample* before) {
  return before ? std::chrono::duration<double>(now.at - before->at).count() : 0;
}

// `text` cut to fit a column of `width` with a space after it.
std::string fit(const std::string& text, std::size_t width) {
  return text.size() < width ? text : text.substr(0, width - 2) + "~";
}

std::string rate_text(std::optional<double> r) {
  return r ? std::to_string(std::llround(*r)) : "n/a";
}

std::string cpu_text(std::optional<double> c) {
  if (!c)
    return "n/a";
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << *c;
  return out.str();
}

std::string rss_text(std::optional<std::uint64_t> kb) {
  if (!kb)
    return "-";
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << static_cast<double>(*kb) / 1024 << "M";
  return out.str();
}

// Sorts rows by one of their columns; `key` returns a number (biggest
// first) or a string (smallest first). Missing values go last.
template <class Row, class Key>
void sort_rows(std::vector<Row>& rows, Key key, bool reverse) {
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    auto ka = key(a), kb = key(b);
    return reverse ? kb < ka : ka < kb;
  });
}

// A number to sort biggest first, missing last.
std::pair<int, double> desc(std::optional<double> v) {
  return v ? std::pair<int, double>{0, -*v} : std::pair<int, double>{1, 0};
}

struct actor_row {
  actor_stats a;
  std::optional<double> rate; // messages run per second
};

std::vector<actor_row> actor_rows(const sample& now, const sample* before, order how) {
  double dt = seconds_between(now, before);
  std::map<std::pair<int, std::string>, std::uint64_t> handled_before;
  if (before)
    for (auto& n : before->nodes)
      for (auto& a : n.actors)
        handled_before[{a.pid, a.name}] = a.handled;
  std::vector<actor_row> rows;
  std::set<std::pair<int, std::string>> seen;
  for (auto& n : now.nodes)
    for (auto& a : n.actors) {
      if (!seen.insert({a.pid, a.name}).second)
        continue;
      actor_row r{a, std::nullopt};
      auto it = handled_before.find({a.pid, a.name});
      if (dt > 0 && it != handled_before.end() && a.handled >= it->second)
        r.rate = static_cast<double>(a.handled - it->second) / dt;
      rows.push_back(std::move(r));
    }
  auto by_pid = [](const actor_row& r) { return r.a.pid; };
  switch (how.key) {
    case sort_key::name:
      sort_rows(rows, [](const actor_row& r) { return r.a.name; }, how.reverse);
      break;
    case sort_key::pid:
      sort_rows(rows, by_pid, how.reverse);
      break;
    case sort_key::depth:
      sort_rows(rows, [](const actor_row& r) { return desc(double(r.a.depth)); }, how.reverse);
      break;
    case sort_key::rate:
      sort_rows(rows, [](const actor_row& r) { return desc(r.rate); }, how.reverse);
      break;
    case sort_key::restarts:
      sort_rows(rows, [](const actor_row& r) { return desc(double(r.a.restarts)); }, how.reverse);
      break;
    default: // by process, then in spawn order
      sort_rows(rows, by_pid, how.reverse);
  }
  return rows;
}

struct proc_row {
  std::string name;
  int pid = 0;
  std::string state = "running", method = "-", daemon = "-";
  std::optional<double> cpu;
  std::optional<std::uint64_t> rss_kb;
};

std::vector<proc_row> proc_rows(const sample& now, const sample* before, order how) {
  double dt = seconds_between(now, before);
  std::map<int, proc_row> rows;
  const auto& main = now.nodes.front();
  rows[now.pid].name = main.name;
  for (auto& n : now.nodes)
    for (auto& c : n.children) {
      if (rows.count(c.pid))
        continue;
      auto& r = rows[c.pid];
      r.name = c.name;
      r.state = c.alive ? "running" : "exit " + std::to_string(c.exitcode);
      r.method = c.method;
      r.daemon = c.daemon ? "yes" : "no";
    }
  for (auto& [pid, info] : now.procs) {
    auto& r = rows[pid]; // a process no node started: the fork server, a worker's helper
    if (r.name.empty())
      r.name = info.comm;
  }
  std::vector<proc_row> out;
  for (auto& [pid, r] : rows) {
    r.pid = pid;
    auto it = now.procs.find(pid);
    if (it != now.procs.end()) {
      r.rss_kb = it->second.rss_kb;
      if (before && dt > 0)
        if (auto b = before->procs.find(pid);
            b != before->procs.end() && it->second.cpu_ticks >= b->second.cpu_ticks)
          r.cpu = 100.0 * static_cast<double>(it->second.cpu_ticks - b->second.cpu_ticks)
                  / ticks_per_second() / dt;
    } else if (r.state == "running") {
      r.state = "gone";
    }
    out.push_back(std::move(r));
  }
  switch (how.key) {
    case sort_key::name:
      sort_rows(out, [](const proc_row& r) { return r.name; }, how.reverse);
      break;
    case sort_key::cpu:
      sort_rows(out, [](const proc_row& r) { return desc(r.cpu); }, how.reverse);
      break;
    case sort_key::rss:
      sort_rows(out, [](const proc_row& r) {
        return desc(r.rss_kb ? std::optional<double>(double(*r.rss_kb)) : std::nullopt);
      }, how.reverse);
      break;
    default:
      sort_rows(out, [](const proc_row& r) { return r.pid; }, how.reverse);
  }
  return out;
}

void title(std::ostream& out, const sample& now) {
  const auto& main = now.nodes.front();
  std::size_t actors = 0;
  for (auto& n : now.nodes)
    actors += n.actors.size();
  out << std::left << "actors-top: pid " << now.pid << " (" << main.name << "), up " << std::fixed
      << std::setprecision(1) << main.uptime << " s, " << now.nodes.size()
      << (now.nodes.size() == 1 ? " node, " : " nodes, ") << actors << " actors\n";
}

// The supervision tree, from each actor's supervisor: roots are the
// supervisors nobody supervises. Nothing when no actor is supervised.
void supervision_tree(std::ostream& out, const std::vector<actor_row>& rows) {
  std::map<std::string, std::vector<const actor_row*>> children;
  std::map<std::string, const actor_row*> by_name;
  for (auto& r : rows) {
    by_name[r.a.name] = &r;
    if (!r.a.supervisor.empty())
      children[r.a.supervisor].push_back(&r);
  }
  if (children.empty())
    return;
  out << "\nSUPERVISION\n";
  std::set<std::string> shown;
  std::function<void(const std::string&, int)> show = [&](const std::string& name, int depth) {
    out << std::string(2 + 2 * static_cast<std::size_t>(depth), ' ') << name;
    if (auto it = by_name.find(name); it != by_name.end())
      out << " (" << it->second->a.type << ", pid " << it->second->a.pid << ", restarts "
          << it->second->a.restarts << ")";
    out << '\n';
    if (!shown.insert(name).second || depth > 32)
      return; // a cycle
    if (auto it = children.find(name); it != children.end())
      for (auto* c : it->second)
        show(c->a.name, depth + 1);
  };
  for (auto& [sup, kids] : children) {
    auto it = by_name.find(sup);
    if (it == by_name.end() || it->second->a.supervisor.empty())
      show(sup, 0);
  }
}

void actors_view(std::ostream& out, const sample& now, const sample* before, order how) {
  auto rows = actor_rows(now, before, how);
  out << "\nACTORS " << rows.size() << "\n  " << std::left << setw(22) << "name" << setw(16)
      << "type" << setw(9) << "pid" << setw(9) << "depth" << setw(10) << "msgs/s" << setw(10)
      << "restarts" << "supervisor\n";
  for (auto& r : rows)
    out << "  " << setw(22) << fit(r.a.name, 22) << setw(16) << fit(r.a.type, 16) << setw(9)
        << r.a.pid << setw(9)
        << r.a.depth << setw(10) << rate_text(r.rate) << setw(10) << r.a.restarts
        << (r.a.supervisor.empty() ? "-" : r.a.supervisor) << '\n';
  supervision_tree(out, rows);
}

void processes_view(std::ostream& out, const sample& now, const sample* before, order how) {
  auto rows = proc_rows(now, before, how);
  out << "\nPROCESSES " << rows.size() << "\n  " << std::left << setw(22) << "name" << setw(9)
      << "pid" << setw(12) << "state" << setw(12) << "method" << setw(8) << "daemon" << setw(8)
      << "cpu%" << "rss\n";
  for (auto& r : rows)
    out << "  " << setw(22) << fit(r.name, 22) << setw(9) << r.pid << setw(12) << r.state << setw(12)
        << r.method << setw(8) << r.daemon << setw(8) << cpu_text(r.cpu) << rss_text(r.rss_kb)
        << '\n';
}

// Queues, pools, threads and locks: the main node's, as before actors.
void other_view(std::ostream& out, const sample& now, const sample* before) {
  const auto& s = now.nodes.front();
  double dt = seconds_between(now, before);
  out << "\nQUEUES (mailboxes) " << s.queues.size() << "\n  " << std::left << setw(6) << "id"
      << setw(10) << "items" << setw(10) << "maxsize" << setw(12) << "puts/s" << setw(12)
      << "gets/s" << setw(10) << "getters" << setw(10) << "putters" << "conns\n";
  for (auto& q : s.queues) {
    // A rate needs two samples: n/a on the first one (and for a new queue).
    std::string puts = "n/a", gets = "n/a";
    if (before && dt > 0)
      for (auto& b : before->nodes.front().queues)
        if (b.id == q.id) {
          puts = std::to_string(std::llround(static_cast<double>(q.puts - b.puts) / dt));
          gets = std::to_string(std::llround(static_cast<double>(q.gets - b.gets) / dt));
        }
    out << "  " << setw(6) << q.id << setw(10) << q.items << setw(10)
        << (q.maxsize ? std::to_string(q.maxsize) : "-") << setw(12) << puts << setw(12) << gets
        << setw(10) << q.waiting_getters << setw(10) << q.waiting_putters << q.connections
        << '\n';
  }
  out << "\nPOOLS " << s.pools.size() << "\n  " << setw(9) << "workers" << setw(10) << "queued"
      << setw(10) << "running" << setw(12) << "done" << setw(10) << "restarts" << "pids\n";
  for (auto& p : s.pools) {
    out << "  " << setw(9) << p.size << setw(10) << p.queued << setw(10) << p.running << setw(12)
        << p.done << setw(10) << p.restarts;
    for (int w : p.workers)
      out << w << ' ';
    out << '\n';
  }
  out << "\nTHREADS " << s.threads.size() << "\n  " << setw(22) << "name" << setw(10) << "tid"
      << setw(10) << "state" << "daemon\n";
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
}

} // namespace

std::string render(const sample& now, const sample* before, view which, order how) {
  std::ostringstream out;
  title(out, now);
  switch (which) {
    case view::actors: actors_view(out, now, before, how); break;
    case view::processes: processes_view(out, now, before, how); break;
    case view::other: other_view(out, now, before); break;
  }
  return out.str();
}

std::string render_all(const sample& now, const sample* before, order how) {
  std::ostringstream out;
  title(out, now);
  actors_view(out, now, before, how);
  processes_view(out, now, before, how);
  other_view(out, now, before);
  return out.str();
}

} // namespace top
