// runner.hpp (private to actors-run): running a topology. The runner starts
// every group's instances and the supervision trees, restarts what failed
// and may be restarted, sends the end markers, stops everything on Ctrl-C
// or --duration, and draws the live view and the summary (view.cpp).

#pragma once

#include "role.hpp"
#include "topology.hpp"

#include <actors/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actors_run {

// -- running it ----------------------------------------------------------------------

/// Set on Ctrl-C, by on_sigint: the runner then stops everything.
extern std::atomic<bool> interrupted;
extern "C" void on_sigint(int);

using clock_type = std::chrono::steady_clock;

struct instance {
  std::optional<actors::process> proc;
  std::optional<actors::thread> actor;
  std::string child_id; // under a supervisor: its child's id there
  actors::actor<role_actor> child; // and its handle (valid across restarts)
  role_config role;
  int restarts = 0; // of this instance; part of its seed
  bool done = false;
  int exitcode = 0;
};

struct group_run {
  const group_spec* spec;
  std::vector<instance> instances;
  int restarts = 0;
  std::int64_t last_processed = 0; // at the last redraw
  // When the group finished, or was told to stop: the end of its run for
  // the summary's average.
  std::optional<clock_type::time_point> ended;
};

/// A running supervisor: its handle, and its children as last seen.
struct supervisor_run {
  const supervisor_spec* spec;
  std::optional<actors::supervisor> handle;
  std::vector<actors::child_info> children;
  std::optional<actors::child_info> as_child; // in its parent's children(), if nested
};

class runner {
public:
  runner(const topology& t, bool view, std::chrono::milliseconds interval)
    : topo_(t), view_(view), interval_(interval) {}

  int run(std::optional<std::chrono::seconds> duration);

private:
  endpoint endpoint_of(const std::string& name, bool reading);
  void start(group_run& g, instance& i);
  void start_children(supervisor_run& s);
  supervisor_run& sup(const std::string& name);
  void look_at_supervisors();
  bool supervised_done(const group_run& g, const instance& i);
  void stop_supervisors();
  void supervision(std::ostream& out);
  void supervision(std::ostream& out, const supervisor_run& s, int depth);
  int group_restarts(const group_run& g) const;
  std::string failure_of(const std::string& sup, const std::string& child) const {
    auto f = last_failure_.find(sup + "/" + child);
    return f == last_failure_.end() ? std::string() : f->second;
  }
  bool all_writers_done(const std::string& channel) const;
  void send_end_markers();
  std::int64_t processed(const group_run& g) const;
  void draw(double dt);
  void summary(clock_type::time_point now, const std::string& how);

  const topology& topo_;
  bool view_;
  std::chrono::milliseconds interval_;
  std::map<std::string, actors::queue<item>> queues_;
  std::map<std::string, std::pair<actors::connection<item>, actors::connection<item>>> pipes_;
  // End markers still to send to a channel's readers, once its writers ended.
  std::map<std::string, int> markers_left_;
  std::vector<group_run> groups_;
  std::optional<actors::array<std::int64_t>> counters_;
  std::optional<actors::array<std::int64_t>> state_; // role_state, for supervised actors
  std::vector<supervisor_run> sups_;
  // A root supervisor that gave up, and why.
  std::optional<std::pair<std::string, std::string>> gave_up_;
  // Why each child ("supervisor/child") last failed: its last exit is a
  // normal stop once the run ends, which would hide it.
  std::map<std::string, std::string> last_failure_;
  actors::event stop_;
  clock_type::time_point t0_;
};

} // namespace actors_run
