// view.cpp (private to actors-run): what the runner draws. The live view,
// the summary at the end, the table of groups both share, and the
// supervision trees; see runner.hpp.

#include "runner.hpp"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace actors_run {

namespace {

namespace table {
void header(std::ostream& out, const char* rate) {
  out << std::left << std::setw(16) << "group" << std::setw(10) << "kind" << std::setw(10)
      << "running" << std::setw(10) << "restarts" << std::setw(14) << "processed"
      << std::setw(14) << rate << "exit codes\n";
}
void row(std::ostream& out, const group_run& g, int restarts, std::int64_t processed, double rate) {
  int running = 0;
  std::string codes;
  for (auto& i : g.instances) {
    running += i.done ? 0 : 1;
    if (i.done && g.spec->supervisor.empty()) // a supervised actor's exits are in its tree
      codes += (codes.empty() ? "" : " ") + std::to_string(i.exitcode);
  }
  out << std::setw(16) << g.spec->name << std::setw(10)
      << (g.spec->in_process ? "actor" : "process") << std::setw(10) << running
      << std::setw(10) << restarts << std::setw(14) << processed << std::setw(14)
      << std::llround(rate) << codes << '\n';
}
} // namespace table

} // namespace

// The live view: items/s over the last `dt` seconds.
void runner::draw(double dt) {
  std::ostringstream out;
  out << "\x1b[H\x1b[2J" << "actors-run  (Ctrl-C stops everything)\n\n";
  table::header(out, "items/s");
  for (auto& g : groups_) {
    auto n = processed(g);
    table::row(out, g, group_restarts(g), n,
               dt > 0 ? static_cast<double>(n - g.last_processed) / dt : 0);
    g.last_processed = n;
  }
  out << '\n' << std::setw(16) << "queue" << std::setw(10) << "depth" << "maxsize\n";
  for (auto& [name, q] : queues_)
    out << std::setw(16) << name << std::setw(10) << q.qsize() << q.maxsize() << '\n';
  supervision(out);
  std::cout << out.str() << std::flush;
}

// The supervision trees: each supervisor with its strategy and limit, the
// restarts it made and its state; under it its children, in start order,
// each with where it runs, its restarts and why it last stopped.
void runner::supervision(std::ostream& out) {
  if (sups_.empty())
    return;
  out << "\nsupervision\n";
  for (auto& s : sups_)
    if (s.spec->parent.empty())
      supervision(out, s, 1);
}

namespace {

// "5 s", "0.25 s": the same in the view and in the summary (whose stream
// prints fixed-point).
std::string in_seconds(double s) {
  std::ostringstream out;
  out << s << " s";
  return out.str();
}

// ", last exit: ..." and, if it differs, ", last failure: ...".
std::string exits(const std::optional<actors::child_info>& c, const std::string& failure) {
  std::string out;
  if (c && c->last_exit)
    out = ", last exit: " + c->last_exit->describe();
  if (!failure.empty() && (!c || !c->last_exit || c->last_exit->describe() != failure))
    out += ", last failure: " + failure;
  return out;
}

} // namespace

void runner::supervision(std::ostream& out, const supervisor_run& s, int depth) {
  std::string indent(2 * static_cast<std::size_t>(depth), ' ');
  out << indent << s.spec->name << ": supervisor, " << strategy_name(s.spec->strategy)
      << ", at most " << s.spec->intensity << " restarts in " << in_seconds(s.spec->period) << ", ";
  if (!s.handle)
    out << "not started";
  else
    out << s.handle->restarts() << " restarts made, ";
  if (gave_up_ && gave_up_->first == s.spec->name)
    out << "gave up: " << gave_up_->second;
  else if (s.handle)
    out << (s.handle->running() ? "running" : "stopped");
  if (s.as_child)
    out << "; as a child (" << restart_name(s.spec->restart) << "): " << s.as_child->restarts
        << " restarts" << exits(s.as_child, failure_of(s.spec->parent, s.spec->name));
  out << '\n';
  for (auto& c : topo_.children_of(s.spec->name)) {
    if (c.sup) {
      supervision(out, sup(c.sup->name), depth + 1);
      continue;
    }
    for (auto& g : groups_) {
      if (g.spec != c.group)
        continue;
      for (auto& i : g.instances) {
        std::optional<actors::child_info> info;
        for (auto& k : s.children)
          if (k.id == i.child_id)
            info = k;
        auto slot = i.role.slot;
        bool finished = (*state_)[role_state::finished(slot)].load() != 0;
        auto dropped = (*state_)[role_state::dropped(slot)].load();
        out << indent << "  " << i.child_id << ": actor (" << restart_name(g.spec->restart_type)
            << ") in " << (g.spec->own_process ? "its own process" : "actors-run");
        if (info && info->pid && info->running && g.spec->own_process)
          out << " (pid " << info->pid << ")";
        out << ", " << (finished ? "done" : info && info->running ? "running" : "stopped") << ", "
            << (info ? info->restarts : 0) << " restarts"
            << exits(info, failure_of(s.spec->name, i.child_id));
        if (dropped > 0)
          out << ", " << dropped << " items dropped when stopped with a full output";
        out << '\n';
      }
    }
  }
}

// The summary: items/s is the average over the group's run, from the start
// until the group finished or was told to stop (Ctrl-C, --duration), however
// the run ended.
void runner::summary(clock_type::time_point now, const std::string& how) {
  std::ostringstream out;
  out << (view_ ? "\n" : "") << "actors-run summary: " << how << " after " << std::fixed << std::setprecision(1)
      << std::chrono::duration<double>(now - t0_).count() << " s\n\n";
  table::header(out, "avg items/s");
  for (auto& g : groups_) {
    double secs = std::chrono::duration<double>(g.ended.value_or(now) - t0_).count();
    auto n = processed(g);
    table::row(out, g, group_restarts(g), n, secs > 0 ? static_cast<double>(n) / secs : 0);
  }
  out << '\n' << std::setw(16) << "queue" << std::setw(10) << "depth" << "maxsize\n";
  for (auto& [name, q] : queues_)
    out << std::setw(16) << name << std::setw(10) << q.qsize() << q.maxsize() << '\n';
  supervision(out);
  std::cout << out.str() << std::flush;
}

} // namespace actors_run
