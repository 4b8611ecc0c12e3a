// runner.cpp (private to actors-run): starting, watching, restarting and
// stopping a topology's groups and supervisors; see runner.hpp. The live
// view and the summary are in view.cpp.

#include "runner.hpp"

#include <algorithm>
#include <iostream>
#include <thread>

namespace actors_run {

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) {
  interrupted = true;
}

// The queue named `name`, or the reading or writing end of that pipe; an
// empty endpoint for no name.
endpoint runner::endpoint_of(const std::string& name, bool reading) {
  endpoint e;
  if (name.empty())
    return e;
  if (auto q = queues_.find(name); q != queues_.end())
    e.queue = q->second;
  else
    e.pipe = reading ? pipes_.at(name).first : pipes_.at(name).second;
  return e;
}

void runner::start(group_run& g, instance& i) {
  auto in = endpoint_of(g.spec->input, true), out = endpoint_of(g.spec->output, false);
  i.done = false;
  if (!g.spec->supervisor.empty()) { // started by its supervisor, from the role's own seed
    auto spec = actors::child_spec(i.child_id).restart(g.spec->restart_type).shutdown(5s);
    auto& h = *sup(g.spec->supervisor).handle;
    if (g.spec->own_process)
      i.child = h.spawn<role_actor>(actors::in_new_process, spec, i.role, in, out, *counters_,
                                    *state_, stop_);
    else
      i.child = h.spawn<role_actor>(spec, i.role, in, out, *counters_, *state_, stop_);
    return;
  }
  i.role.seed = seed_of(g.spec->role.seed, i.role.slot, i.restarts);
  if (g.spec->in_process) {
    i.actor.emplace(run_role, i.role, in, out, *counters_, stop_);
    i.actor->name(g.spec->name).start();
    return;
  }
  i.proc.emplace(run_role, i.role, in, out, *counters_, stop_);
  i.proc->name(g.spec->name + (g.instances.size() > 1 ? "-" + std::to_string(&i - g.instances.data() + 1) : ""));
  i.proc->start();
}

supervisor_run& runner::sup(const std::string& name) {
  for (auto& s : sups_)
    if (s.spec->name == name)
      return s;
  throw actors::error(actors::errc::bad_argument, "no supervisor " + name); // parse() checked
}

namespace {

actors::supervisor_options options_of(const supervisor_spec& s) {
  return actors::supervisor_options()
    .strategy(s.strategy)
    .intensity(s.intensity, std::chrono::duration_cast<actors::duration>(
                              std::chrono::duration<double>(s.period)))
    .name(s.name);
}

} // namespace

// Starts the children of `s` in the order of the file: nested supervisors
// (and then their children) and the instances of its actor groups.
void runner::start_children(supervisor_run& s) {
  for (auto& c : topo_.children_of(s.spec->name)) {
    if (c.sup) {
      auto& nested = sup(c.sup->name);
      nested.handle.emplace(s.handle->supervise(
        actors::child_spec(c.sup->name).restart(c.sup->restart), options_of(*c.sup)));
      start_children(nested);
      continue;
    }
    for (auto& g : groups_)
      if (g.spec == c.group)
        for (auto& i : g.instances)
          start(g, i);
  }
}

// Reads every supervisor's children; notes a root that gave up.
void runner::look_at_supervisors() {
  for (auto& s : sups_) {
    if (!s.handle)
      continue;
    try {
      s.children = s.handle->children();
    } catch (const actors::error&) {
      // a supervisor that has stopped keeps what it last showed
    }
    for (auto& c : s.children)
      if (c.last_exit && !c.last_exit->normal())
        last_failure_[s.spec->name + "/" + c.id] = c.last_exit->describe();
    for (auto& c : s.children)
      if (c.type == "supervisor")
        for (auto& n : sups_)
          if (n.spec->name == c.id)
            n.as_child = c;
    if (s.spec->parent.empty() && !gave_up_ && !stop_.is_set() && !s.handle->running()) {
      auto why = s.handle->join(1s); // it has stopped: its reason follows at once
      gave_up_.emplace(s.spec->name, !why                ? std::string("it stopped")
                                     : why->message.empty() ? why->describe()
                                                            : why->message);
    }
  }
}

// An instance under a supervisor is done once its role has finished (it
// then idles), once its root supervisor has stopped, or, for a temporary
// one, once it has left its supervisor.
bool runner::supervised_done(const group_run& g, const instance& i) {
  if ((*state_)[role_state::finished(i.role.slot)].load() != 0)
    return true;
  auto& s = sup(g.spec->supervisor);
  const supervisor_run* root = &s;
  while (!root->spec->parent.empty())
    root = &sup(root->spec->parent);
  if (!root->handle->running())
    return true;
  if (g.spec->restart_type != actors::restart::temporary || !s.handle->running())
    return false;
  return std::none_of(s.children.begin(), s.children.end(),
                      [&](const actors::child_info& c) { return c.id == i.child_id; });
}

// Stops the root supervisors, last started first; each stops its tree.
void runner::stop_supervisors() {
  look_at_supervisors(); // what they show last
  for (auto s = sups_.rbegin(); s != sups_.rend(); ++s)
    if (s->handle && s->spec->parent.empty() && s->handle->running())
      s->handle->stop();
}

int runner::group_restarts(const group_run& g) const {
  if (g.spec->supervisor.empty())
    return g.restarts;
  int n = 0;
  for (auto& s : sups_)
    if (s.spec->name == g.spec->supervisor)
      for (auto& c : s.children)
        for (auto& i : g.instances)
          n += c.id == i.child_id ? static_cast<int>(c.restarts) : 0;
  return n;
}

bool runner::all_writers_done(const std::string& channel) const {
  for (auto& g : groups_)
    if (g.spec->output == channel)
      for (auto& i : g.instances)
        if (!i.done)
          return false;
  return true;
}

// A channel whose writers all ended gets one end marker per reader. Never
// blocks: a full queue gets the rest on a later turn of the loop.
void runner::send_end_markers() {
  for (auto& c : topo_.channels) {
    if (!all_writers_done(c.name))
      continue;
    if (!markers_left_.count(c.name)) {
      int readers = 0;
      for (auto& g : groups_)
        readers += g.spec->input == c.name ? static_cast<int>(g.instances.size()) : 0;
      markers_left_[c.name] = readers;
    }
    auto& left = markers_left_[c.name];
    auto w = endpoint_of(c.name, false);
    while (left > 0 && w.try_put(std::nullopt, actors::duration::zero()))
      --left;
  }
}

std::int64_t runner::processed(const group_run& g) const {
  std::int64_t n = 0;
  for (auto& i : g.instances)
    n += (*counters_)[2 * i.role.slot].load();
  return n;
}

int runner::run(std::optional<std::chrono::seconds> duration) {
  for (auto& c : topo_.channels) {
    if (c.is_pipe)
      pipes_.emplace(c.name, actors::pipe<item>(false));
    else
      queues_.emplace(c.name, actors::queue<item>(c.maxsize));
  }
  std::size_t slots = 0;
  for (auto& g : topo_.groups)
    slots += static_cast<std::size_t>(g.replicas);
  counters_.emplace(2 * slots, 0);
  state_.emplace(role_state::width * slots, 0);
  std::size_t slot = 0;
  for (auto& g : topo_.groups) {
    group_run run{&g, std::vector<instance>(static_cast<std::size_t>(g.replicas)), 0, 0, {}};
    for (auto& i : run.instances) {
      i.role = g.role;
      i.role.slot = slot++;
      if (!g.supervisor.empty())
        i.child_id = g.name + (g.replicas > 1 ? "-" + std::to_string(&i - run.instances.data() + 1) : "");
    }
    groups_.push_back(std::move(run));
  }
  for (auto& s : topo_.supervisors)
    sups_.push_back({&s, std::nullopt, {}, std::nullopt});
  t0_ = clock_type::now();
  for (auto& g : groups_)
    if (g.spec->supervisor.empty())
      for (auto& i : g.instances)
        start(g, i);
  // The roots in the order of the file, each with its tree.
  std::vector<supervisor_run*> roots;
  for (auto& s : sups_)
    if (s.spec->parent.empty())
      roots.push_back(&s);
  std::stable_sort(roots.begin(), roots.end(), [](auto* a, auto* b) { return a->spec->line < b->spec->line; });
  for (auto* s : roots) {
    s->handle.emplace(options_of(*s->spec));
    start_children(*s);
  }

  auto last_draw = t0_;
  std::string how = "finished";
  for (;;) {
    bool stopping = stop_.is_set();
    look_at_supervisors();
    // Reap what ended; restart what failed and may be restarted.
    bool all_done = true;
    for (auto& g : groups_) {
      bool group_done = true;
      for (auto& i : g.instances) {
        if (!i.done) {
          if (!g.spec->supervisor.empty()) {
            i.done = supervised_done(g, i);
          } else if (i.actor) {
            if (!i.actor->is_alive())
              i.done = true;
          } else if (i.proc->join(0s)) {
            i.exitcode = *i.proc->exitcode();
            i.done = true;
            if (i.exitcode != 0 && g.spec->restart && !stopping) {
              ++g.restarts;
              ++i.restarts;
              start(g, i);
            }
          }
        }
        group_done = group_done && i.done;
      }
      if (group_done && !g.ended)
        g.ended = clock_type::now();
      all_done = all_done && group_done;
    }
    if (all_done)
      break;
    send_end_markers();
    auto now = clock_type::now();
    if (!stopping && (interrupted || gave_up_ || (duration && now - t0_ >= *duration))) {
      how = interrupted ? "stopped by Ctrl-C"
            : gave_up_  ? "stopped because supervisor " + gave_up_->first + " gave up"
                        : "stopped by --duration";
      for (auto& g : groups_)
        if (!g.ended)
          g.ended = now; // what is processed while stopping is not part of the rate
      stop_.set();       // every role checks it at least every 100 ms
      stop_supervisors();
      auto deadline = now + 2s;
      for (auto& g : groups_)
        for (auto& i : g.instances)
          if (i.proc && !i.done && !i.proc->join(std::max<actors::duration>(
                                     0s, deadline - clock_type::now()))) {
            std::cerr << "actors-run: " << i.proc->name() << " did not stop within 2 s; "
                      << "terminating it\n";
            i.proc->terminate();
          }
    }
    if (view_ && now - last_draw >= interval_) {
      draw(std::chrono::duration<double>(now - last_draw).count());
      last_draw = now;
    }
    std::this_thread::sleep_for(20ms);
  }
  bool stopped = stop_.is_set();
  if (gave_up_ && !stopped)
    how = "stopped because supervisor " + gave_up_->first + " gave up"; // its tree ended with it
  stop_supervisors(); // a finished run's actors idle until now
  summary(clock_type::now(), how);
  if (interrupted)
    std::cout << "stopped by Ctrl-C: every process and actor has exited\n";
  if (gave_up_ && !interrupted) {
    std::cout << "supervisor " << gave_up_->first << " gave up: " << gave_up_->second << '\n';
    return 3;
  }
  for (auto& g : groups_)
    for (auto& i : g.instances)
      if (i.exitcode != 0 && !g.spec->restart && !stopped)
        return 1;
  return interrupted ? 130 : 0;
}

} // namespace actors_run
