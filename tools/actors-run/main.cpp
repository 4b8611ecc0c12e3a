// actors-run: runs a topology described in a TOML file (queues, pipes,
// groups of processes and in-process actors, each with a built-in role),
// shows a live view while it runs, and stops everything cleanly on Ctrl-C.
// The file format is in docs/tools.md; examples/topologies/ has samples.

#include <actors/all.hpp>
#include <actors/detail/queue_client.hpp> // flush_all_queues(), before a crash on purpose

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <type_traits>
#include <sstream>
#include <thread>
#include <poll.h>
#include <unistd.h>

using namespace std::chrono_literals;

namespace {

// -- what a role works with ---------------------------------------------------------

using item = std::optional<std::int64_t>; // nullopt: the end of the stream

/// One end a role reads from or writes to: a queue or a pipe end.
struct endpoint {
  std::optional<actors::queue<item>> queue;
  std::optional<actors::connection<item>> pipe;

  bool valid() const { return queue || pipe; }
  // Puts `v`, waiting while a bounded queue (or the pipe's buffer) is full;
  // false if `stop` was set first. Checks `stop` every 100 ms.
  bool put(const item& v, const actors::event& stop) {
    for (;;) {
      if (try_put(v, 100ms))
        return true;
      if (stop.is_set())
        return false;
    }
  }
  // Puts `v` if there is room within `timeout`.
  bool try_put(const item& v, actors::duration timeout) {
    if (queue)
      return queue->try_put(v, timeout);
    pollfd p{pipe->fileno(), POLLOUT, 0};
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) // no room yet (or EINTR: try again)
      return false;
    pipe->send(v);
    return true;
  }
  // The next item, or nothing within `timeout`.
  std::optional<item> get(actors::duration timeout) {
    if (queue)
      return queue->try_get(timeout);
    return pipe->try_recv(timeout);
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(queue, pipe);
  }
};

/// What one instance of a group runs.
struct role_config {
  std::string group;
  std::string role; // produce | transform | sink
  std::string op = "identity";
  std::int64_t count = 0; // produce: 0 is endless
  double rate = 0;        // produce: items per second, 0 = unlimited
  std::int64_t delay_us = 0;
  double crash_rate = 0;
  std::uint64_t seed = 1; // differs per group, instance and restart
  std::size_t slot = 0; // this instance's counters: processed at 2*slot, sum at 2*slot+1
  template <class Archive>
  void serialize(Archive& ar) {
    ar(group, role, op, count, rate, delay_us, crash_rate, seed, slot);
  }
};

/// A seed for the random crashes of one run of one instance: a restarted
/// instance must not replay the crashes of the run before it.
std::uint64_t seed_of(std::uint64_t group, std::size_t slot, int restarts) {
  std::uint64_t x = group * 0x9e3779b97f4a7c15ull ^ (slot + 1) * 0xbf58476d1ce4e5b9ull
                    ^ static_cast<std::uint64_t>(restarts + 1) * 0x94d049bb133111ebull;
  x ^= x >> 31; // splitmix64's finalizer
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::int64_t apply_op(const std::string& op, std::int64_t v) {
  if (op == "square")
    return v * v;
  if (op == "double")
    return 2 * v;
  if (op == "increment")
    return v + 1;
  return v;
}

/// The body of every process and actor: a role until its input ends, its
/// count is reached, or `stop` is set. Every wait (a full output, an empty
/// input, delay_us, rate) checks `stop` at least every 100 ms.
void run_role(role_config cfg, endpoint in, endpoint out, actors::array<std::int64_t> counters,
              actors::event stop) {
  if (actors::parent_process()) // a process of ours: Ctrl-C is actors-run's to handle
    std::signal(SIGINT, SIG_IGN);
  std::mt19937_64 rng(cfg.seed);
  std::uniform_real_distribution<double> chance(0, 1);
  auto& processed = counters[2 * cfg.slot];
  auto& sum = counters[2 * cfg.slot + 1];
  auto wait = [&](actors::duration d) {
    while (d > actors::duration::zero() && !stop.is_set()) {
      auto step = std::min<actors::duration>(d, 100ms);
      stop.wait(step);
      d -= step;
    }
  };
  auto after_item = [&](std::int64_t v) {
    processed.fetch_add(1);
    sum.fetch_add(v);
    if (cfg.delay_us > 0)
      wait(std::chrono::microseconds(cfg.delay_us));
    if (cfg.crash_rate > 0 && chance(rng) < cfg.crash_rate) {
      // A crash on purpose, to show restarts. It happens between two items:
      // first the queues get what this process put and learn what it took
      // (what it fetched beyond that goes back), as when a process exits, so
      // no item is delivered twice and the counts stay exact.
      actors::detail::flush_all_queues();
      std::abort();
    }
  };
  if (cfg.role == "produce") {
    auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = processed.load() + 1; cfg.count == 0 || i <= cfg.count; ++i) {
      if (stop.is_set())
        return;
      if (cfg.rate > 0)
        wait(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>((i - 1) / cfg.rate))
             - std::chrono::steady_clock::now());
      if (!out.put(i, stop))
        return;
      after_item(i);
    }
    return;
  }
  while (!stop.is_set()) {
    auto v = in.get(100ms);
    if (!v)
      continue;
    if (!*v)
      return; // end of the stream
    auto r = apply_op(cfg.op, **v);
    if (cfg.role == "transform" && !out.put(r, stop))
      return;
    after_item(r);
  }
}

/// What a supervised role keeps outside itself, in an actors::array shared
/// by every process, three entries per instance ("slot"): whether it has
/// finished, how often it was built (part of its seed), and items it had to
/// drop when stopped (a transform whose output stayed full).
struct role_state {
  static constexpr std::size_t width = 3;
  static std::size_t finished(std::size_t slot) { return width * slot; }
  static std::size_t runs(std::size_t slot) { return width * slot + 1; }
  static std::size_t dropped(std::size_t slot) { return width * slot + 2; }
};

/// A role as a real actor under an actors::supervisor. step() works for one
/// slice (up to 50 ms or 256 items, with waits of at most 10 ms), then tells
/// itself step again, or asks for it after a short pause (at most 100 ms)
/// when its input is empty, its output full or its rate ahead: its
/// supervisor's stop and other messages get through between slices, and it
/// never holds a CAF worker for long. Each instance starts its chain of
/// steps from on_start(), so a restarted one goes on at once.
///
/// Nothing of it survives a restart but what is in the shared arrays: a
/// restarted producer goes on after the items counted as processed, and a
/// role that has finished stays finished (it idles until it is stopped, so
/// a permanent child that is done is not restarted).
class role_actor {
public:
  role_actor(role_config cfg, endpoint in, endpoint out, actors::array<std::int64_t> counters,
             actors::array<std::int64_t> state, actors::event stop)
    : cfg_(std::move(cfg)), in_(std::move(in)), out_(std::move(out)),
      counters_(std::move(counters)), state_(std::move(state)), stop_(std::move(stop)) {
    if (actors::parent_process()) // in its own process: Ctrl-C is actors-run's to handle
      std::signal(SIGINT, SIG_IGN);
    auto run = state_[role_state::runs(cfg_.slot)].fetch_add(1);
    rng_.seed(seed_of(cfg_.seed, cfg_.slot, static_cast<int>(run)));
    first_ = processed().load() + 1;
  }

  void on_start() { actors::self().handle(this).tell(&role_actor::step); }

  void step() {
    if (finished() || stop_.is_set())
      return;
    auto slice_end = clock::now() + 50ms;
    for (int n = 0; n < 256 && clock::now() < slice_end; ++n) {
      if (cfg_.role == "produce") {
        std::int64_t i = processed().load() + 1;
        if (cfg_.count != 0 && i > cfg_.count)
          return finish();
        if (cfg_.rate > 0) {
          auto due = start_ + std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>((i - first_) / cfg_.rate));
          if (due > clock::now())
            return again(std::min<actors::duration>(due - clock::now(), 100ms));
        }
        if (!out_.try_put(i, 10ms))
          return again(5ms); // the item is put again next time: nothing is lost
        after_item(i);
        continue;
      }
      if (pending_) { // a result that found the output full
        if (!out_.try_put(*pending_, 10ms))
          return again(5ms);
        auto r = *pending_;
        pending_.reset();
        after_item(r);
        continue;
      }
      auto v = in_.get(10ms);
      if (!v)
        return again(5ms);
      if (!*v)
        return finish(); // the end of the stream
      auto r = apply_op(cfg_.op, **v);
      if (cfg_.role == "transform" && !out_.try_put(r, 10ms)) {
        pending_ = r;
        return again(5ms);
      }
      after_item(r);
    }
    again(actors::duration::zero());
  }

  // Stopped (by its supervisor, or by actors-run) while holding a result:
  // it gets a second to find room, else it is counted as dropped.
  void on_stop() {
    if (!pending_)
      return;
    bool put = false;
    try {
      put = out_.try_put(*pending_, 1s);
    } catch (const actors::error&) {
      // its queue is gone: actors-run is ending
    }
    if (put) {
      processed().fetch_add(1);
      sum().fetch_add(*pending_);
    } else {
      state_[role_state::dropped(cfg_.slot)].fetch_add(1);
    }
  }

private:
  using clock = std::chrono::steady_clock;
  std::atomic<std::int64_t>& processed() const { return counters_[2 * cfg_.slot]; }
  std::atomic<std::int64_t>& sum() const { return counters_[2 * cfg_.slot + 1]; }
  bool finished() const { return state_[role_state::finished(cfg_.slot)].load() != 0; }
  // Done: it idles from now on, so what its process fetched from a queue
  // beyond what it took (another reader's end marker, say) goes back now,
  // as it would when a process exits: a reader in another process may be
  // waiting for it. (Inside actors-run this hands back what the process
  // fetched for its other readers too; they fetch it again.)
  void finish() {
    state_[role_state::finished(cfg_.slot)].store(1);
    actors::detail::flush_all_queues();
  }

  void again(actors::duration pause) {
    if (pause <= actors::duration::zero())
      actors::self().handle(this).tell(&role_actor::step);
    else
      actors::self().after(pause, [this] { step(); });
  }

  void after_item(std::int64_t v) {
    processed().fetch_add(1);
    sum().fetch_add(v);
    if (cfg_.delay_us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(cfg_.delay_us)); // the simulated work
    if (cfg_.crash_rate > 0 && chance_(rng_) < cfg_.crash_rate) {
      // As run_role does: the queues first learn what this process put and
      // took, so the counts stay exact; then its supervisor sees SIGABRT.
      actors::detail::flush_all_queues();
      std::abort();
    }
  }

  role_config cfg_;
  endpoint in_, out_;
  actors::array<std::int64_t> counters_, state_;
  actors::event stop_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> chance_{0, 1};
  clock::time_point start_ = clock::now();
  std::int64_t first_ = 1; // the first item this run produces
  std::optional<std::int64_t> pending_;
};

// -- the topology file -------------------------------------------------------------

struct channel_spec {
  std::string name;
  bool is_pipe = false;
  std::uint64_t maxsize = 0;
  int line = 0;
};

struct group_spec {
  std::string name;
  bool in_process = false; // an actor (thread) in actors-run, not a process
  role_config role;
  std::string input, output;
  int replicas = 1;
  bool restart = false;
  // Under a supervisor (actors only): the supervisor restarts it, by
  // `restart_type`, and it runs in a process of its own or in actors-run.
  std::string supervisor;
  actors::restart restart_type = actors::restart::permanent;
  bool own_process = false;
  int line = 0;
};

/// A [supervisors.NAME] table: an actors::supervisor, a root or nested
/// under `parent`.
struct supervisor_spec {
  std::string name;
  actors::strategy strategy = actors::strategy::one_for_one;
  int intensity = 1;
  double period = 5.0; // seconds
  std::string parent;  // empty: a root
  actors::restart restart = actors::restart::permanent; // as its parent's child
  int line = 0;
};

struct topology {
  std::vector<channel_spec> channels;
  std::vector<group_spec> groups;
  std::vector<supervisor_spec> supervisors;

  const supervisor_spec* supervisor(const std::string& name) const {
    for (auto& s : supervisors)
      if (s.name == name)
        return &s;
    return nullptr;
  }
  /// One child of a supervisor: a nested supervisor or an actor group.
  struct child {
    const supervisor_spec* sup = nullptr;
    const group_spec* group = nullptr;
    int line() const { return sup ? sup->line : group->line; }
    const std::string& name() const { return sup ? sup->name : group->name; }
  };
  /// The children of supervisor `name`, in the order of the file, which is
  /// the order they start in (rest_for_one restarts the later ones).
  std::vector<child> children_of(const std::string& name) const {
    std::vector<child> out;
    for (auto& s : supervisors)
      if (s.parent == name)
        out.push_back({&s, nullptr});
    for (auto& g : groups)
      if (g.supervisor == name)
        out.push_back({nullptr, &g});
    std::stable_sort(out.begin(), out.end(),
                     [](const child& a, const child& b) { return a.line() < b.line(); });
    return out;
  }
};

const char* strategy_name(actors::strategy s) {
  return actors::to_string(s);
}

const char* restart_name(actors::restart r) {
  return actors::to_string(r);
}

std::optional<actors::restart> restart_of(const std::string& s) {
  for (auto r : {actors::restart::permanent, actors::restart::transient, actors::restart::temporary})
    if (s == restart_name(r))
      return r;
  return std::nullopt;
}

/// A mistake in the file, with the line it is on.
struct file_error {
  int line;
  std::string message;
};

int line_of(const toml::node& n) {
  return static_cast<int>(n.source().begin.line);
}

/// Checks a parsed file, collecting every mistake rather than stopping at
/// the first one.
class checker {
public:
  std::vector<file_error> errors;

  void error(int line, std::string message) { errors.push_back({line, std::move(message)}); }

  // The line of `key` in `t` if it is there (mistakes in a value are
  // reported on its own line), else `fallback` (the table's line).
  static int line_of_key(const toml::table& t, const char* key, int fallback) {
    auto* n = t.get(key);
    return n ? line_of(*n) : fallback;
  }

  template <class T>
  T get_or(const toml::table& t, const std::string& where, const char* key, T fallback) {
    auto* n = t.get(key);
    if (!n)
      return fallback;
    if (auto v = n->value<T>())
      return *v;
    const char* type = std::is_same_v<T, std::string> ? "a string"
                              : std::is_same_v<T, double>    ? "a number"
                                                             : "an integer";
    error(line_of(*n), where + ": '" + key + "' must be " + type);
    return fallback;
  }

  // Calls fn(name, table, line) for each entry of section [kind] that is a
  // table; reports the others.
  template <class F>
  void each_entry(const toml::table& doc, const char* kind, F&& fn) {
    auto* section = doc.get(kind);
    if (!section)
      return;
    auto* t = section->as_table();
    if (!t) {
      error(line_of(*section), std::string("[") + kind + "] must be a table");
      return;
    }
    for (auto& [name, node] : *t) {
      auto* spec = node.as_table();
      if (!spec) {
        error(line_of(node), std::string(kind) + "." + std::string(name.str())
                               + " must be a table: [" + kind + "." + std::string(name.str()) + "]");
        continue;
      }
      fn(std::string(name.str()), *spec, line_of(node));
    }
  }
};

/// The topology in `path`, or nothing and every mistake in it, in line
/// order, in `errors`. (toml++ stops at the first syntax error.)
std::optional<topology> parse(const std::string& path, std::vector<file_error>& errors) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    errors.push_back({static_cast<int>(e.source().begin.line), std::string(e.description())});
    return std::nullopt;
  }
  checker check;
  topology topo;
  static const char* sections[] = {"queues", "pipes", "processes", "actors", "supervisors"};
  for (auto& [kind, node] : doc)
    if (std::none_of(std::begin(sections), std::end(sections),
                     [&](const char* s) { return kind.str() == s; }))
      check.error(line_of(node), "unknown section '" + std::string(kind.str())
                                   + "': expected [queues.NAME], [pipes.NAME], "
                                     "[processes.NAME], [actors.NAME] or [supervisors.NAME]");
  for (auto& [kind, is_pipe] : {std::pair<const char*, bool>{"queues", false}, {"pipes", true}})
    check.each_entry(doc, kind, [&, is_pipe = is_pipe](std::string name, const toml::table& spec, int line) {
      channel_spec c{std::move(name), is_pipe, 0, line};
      for (auto& [key, value] : spec)
        if (is_pipe || key.str() != "maxsize")
          check.error(line_of(value), "unknown key '" + std::string(key.str()) + "' in "
                                        + (is_pipe ? "pipe " : "queue ") + c.name
                                        + (is_pipe ? " (a pipe has no keys)" : " (known: maxsize)"));
      auto maxsize = check.get_or<std::int64_t>(spec, c.name, "maxsize", 0);
      if (maxsize < 0)
        check.error(checker::line_of_key(spec, "maxsize", line), c.name + ": maxsize must not be negative");
      c.maxsize = static_cast<std::uint64_t>(std::max<std::int64_t>(maxsize, 0));
      topo.channels.push_back(c);
    });
  auto find_channel = [&](const std::string& name) -> const channel_spec* {
    for (auto& c : topo.channels)
      if (c.name == name)
        return &c;
    return nullptr;
  };
  check.each_entry(doc, "supervisors", [&](std::string name, const toml::table& spec, int line) {
    supervisor_spec s;
    s.name = std::move(name);
    s.line = line;
    auto at = [&](const char* key) { return checker::line_of_key(spec, key, line); };
    static const char* known_keys[] = {"strategy", "intensity", "period", "parent", "restart"};
    for (auto& [key, value] : spec)
      if (std::none_of(std::begin(known_keys), std::end(known_keys),
                       [&](const char* k) { return key.str() == k; }))
        check.error(line_of(value), "unknown key '" + std::string(key.str()) + "' in supervisor "
                                      + s.name + " (known: strategy, intensity, period, parent, restart)");
    auto strategy = check.get_or<std::string>(spec, s.name, "strategy", "one_for_one");
    bool strategy_ok = false;
    for (auto st : {actors::strategy::one_for_one, actors::strategy::one_for_all,
                    actors::strategy::rest_for_one})
      if (strategy == strategy_name(st)) {
        s.strategy = st;
        strategy_ok = true;
      }
    if (!strategy_ok)
      check.error(at("strategy"), s.name + ": strategy must be one_for_one, one_for_all or "
                                           "rest_for_one, not '" + strategy + "'");
    auto intensity = check.get_or<std::int64_t>(spec, s.name, "intensity", 1);
    if (intensity < 0 || intensity > 1000000)
      check.error(at("intensity"), s.name + ": intensity (restarts allowed within period) must be "
                                            "between 0 and 1000000");
    s.intensity = static_cast<int>(std::clamp<std::int64_t>(intensity, 0, 1000000));
    s.period = check.get_or<double>(spec, s.name, "period", 5.0);
    if (!(s.period >= 0.001 && s.period <= 86400))
      check.error(at("period"), s.name + ": period must be between 0.001 and 86400 seconds");
    s.parent = check.get_or<std::string>(spec, s.name, "parent", "");
    auto restart = check.get_or<std::string>(spec, s.name, "restart", "permanent");
    if (auto r = restart_of(restart))
      s.restart = *r;
    else
      check.error(at("restart"), s.name + ": restart must be permanent, transient or temporary, not '"
                                   + restart + "'");
    if (s.parent.empty() && spec.contains("restart"))
      check.error(at("restart"), s.name + ": a root supervisor has no restart type (only one with "
                                          "a parent is restarted, by its parent)");
    topo.supervisors.push_back(s);
  });
  for (auto& s : topo.supervisors) {
    if (s.parent.empty())
      continue;
    auto at = checker::line_of_key(*doc["supervisors"][s.name].as_table(), "parent", s.line);
    if (s.parent == s.name)
      check.error(at, s.name + ": a supervisor cannot be its own parent");
    else if (!topo.supervisor(s.parent))
      check.error(at, s.name + ": no supervisor named '" + s.parent + "' (parent)");
    else {
      // Follow the parents: a cycle comes back to `s`. Reported once, on
      // the member of the cycle that comes first in the file.
      std::vector<const supervisor_spec*> path{&s};
      for (auto* p = topo.supervisor(s.parent); p && path.size() <= topo.supervisors.size();
           p = topo.supervisor(p->parent)) {
        if (p == &s) {
          bool first = std::all_of(path.begin(), path.end(),
                                   [&](const supervisor_spec* q) { return q->line >= s.line; });
          std::string chain;
          for (auto* q : path)
            chain += q->name + " -> ";
          if (first)
            check.error(at, s.name + ": the parents form a cycle (" + chain + s.name
                              + "): one supervisor must be a root (no parent)");
          break;
        }
        path.push_back(p);
      }
    }
  }
  std::uint64_t seed = 1;
  for (auto& [kind, in_process] : {std::pair<const char*, bool>{"processes", false}, {"actors", true}})
    check.each_entry(doc, kind, [&, in_process = in_process](std::string name, const toml::table& spec, int line) {
      group_spec g;
      g.name = std::move(name);
      g.in_process = in_process;
      g.line = line;
      auto at = [&](const char* key) { return checker::line_of_key(spec, key, line); };
      static const char* known_keys[] = {"role",       "op",    "count",  "rate",
                                         "delay_us",   "crash_rate", "input", "output",
                                         "replicas",   "restart", "supervisor", "where"};
      for (auto& [key, value] : spec)
        if (std::none_of(std::begin(known_keys), std::end(known_keys),
                         [&](const char* k) { return key.str() == k; }))
          check.error(line_of(value), "unknown key '" + std::string(key.str()) + "' in " + g.name);
      g.role.group = g.name;
      g.role.role = check.get_or<std::string>(spec, g.name, "role", "");
      bool role_ok = g.role.role == "produce" || g.role.role == "transform" || g.role.role == "sink";
      if (!role_ok)
        check.error(at("role"), g.name + (spec.contains("role")
                                    ? ": role must be produce, transform or sink, not '" + g.role.role + "'"
                                    : ": needs a role: produce, transform or sink"));
      g.role.op = check.get_or<std::string>(spec, g.name, "op", "identity");
      if (g.role.op != "identity" && g.role.op != "square" && g.role.op != "double"
          && g.role.op != "increment")
        check.error(at("op"), g.name + ": op must be identity, square, double or increment, not '"
                                + g.role.op + "'");
      g.role.count = check.get_or<std::int64_t>(spec, g.name, "count", 0);
      if (g.role.count < 0)
        check.error(at("count"), g.name + ": count must not be negative (0 is endless)");
      g.role.rate = check.get_or<double>(spec, g.name, "rate", 0.0);
      if (g.role.rate < 0)
        check.error(at("rate"), g.name + ": rate must not be negative (0 is unlimited)");
      g.role.delay_us = check.get_or<std::int64_t>(spec, g.name, "delay_us", 0);
      if (g.role.delay_us < 0)
        check.error(at("delay_us"), g.name + ": delay_us must not be negative");
      g.role.crash_rate = check.get_or<double>(spec, g.name, "crash_rate", 0.0);
      if (g.role.crash_rate < 0 || g.role.crash_rate > 1)
        check.error(at("crash_rate"), g.name + ": crash_rate must be between 0 and 1");
      g.input = check.get_or<std::string>(spec, g.name, "input", "");
      g.output = check.get_or<std::string>(spec, g.name, "output", "");
      auto replicas = check.get_or<std::int64_t>(spec, g.name, "replicas", 1);
      if (replicas < 1 || replicas > 1000)
        check.error(at("replicas"), g.name + ": replicas must be between 1 and 1000");
      g.replicas = static_cast<int>(std::clamp<std::int64_t>(replicas, 1, 1000));
      g.supervisor = check.get_or<std::string>(spec, g.name, "supervisor", "");
      bool supervised = !g.supervisor.empty();
      if (supervised && !in_process)
        check.error(at("supervisor"), g.name + ": a process group is restarted by actors-run "
                                               "(restart = \"on-failure\"), not by a supervisor: "
                                               "make it an [actors." + g.name + "] with where = \"process\"");
      else if (supervised && !topo.supervisor(g.supervisor))
        check.error(at("supervisor"), g.name + ": no supervisor named '" + g.supervisor + "'");
      auto restart = check.get_or<std::string>(spec, g.name, "restart",
                                                supervised && in_process ? "permanent" : "never");
      if (supervised && in_process) {
        if (auto r = restart_of(restart))
          g.restart_type = *r;
        else
          check.error(at("restart"), g.name + ": restart under a supervisor must be permanent, "
                                              "transient or temporary, not '" + restart + "'");
      } else if (restart_of(restart)) {
        check.error(at("restart"), g.name + ": restart = \"" + restart + "\" needs a supervisor "
                                            "(supervisor = \"NAME\", on an [actors." + g.name + "])");
      } else if (restart != "never" && restart != "on-failure") {
        check.error(at("restart"), g.name + ": restart must be never or on-failure, not '" + restart + "'");
      }
      g.restart = restart == "on-failure";
      auto where = check.get_or<std::string>(spec, g.name, "where", "node");
      if (!in_process && spec.contains("where"))
        check.error(at("where"), g.name + ": 'where' is for actors; a process group always runs "
                                          "in processes of its own");
      else if (where != "node" && where != "process")
        check.error(at("where"), g.name + ": where must be process (its own OS process) or node "
                                          "(inside actors-run), not '" + where + "'");
      else if (in_process && !supervised && spec.contains("where"))
        check.error(at("where"), g.name + ": 'where' needs a supervisor (supervisor = \"NAME\"); "
                                          "an actor without one runs inside actors-run");
      g.own_process = supervised && where == "process";
      if (role_ok) {
        bool needs_in = g.role.role != "produce", needs_out = g.role.role != "sink";
        if (needs_in && g.input.empty())
          check.error(line, g.name + ": a " + g.role.role + " needs an input (input = \"QUEUE\")");
        if (!needs_in && !g.input.empty())
          check.error(at("input"), g.name + ": a producer has no input");
        if (needs_out && g.output.empty())
          check.error(line, g.name + ": a " + g.role.role + " needs an output (output = \"QUEUE\")");
        if (!needs_out && !g.output.empty())
          check.error(at("output"), g.name + ": a sink has no output");
      }
      for (auto* key : {"input", "output"}) {
        auto& ch = std::string(key) == "input" ? g.input : g.output;
        if (ch.empty())
          continue;
        auto* c = find_channel(ch);
        if (!c)
          check.error(at(key), g.name + ": no queue or pipe named '" + ch + "'");
        else if (c->is_pipe && (g.replicas > 1 || g.restart))
          check.error(at(key), g.name + ": a pipe end belongs to one process: no replicas "
                                        "or restarts on pipe '" + ch + "'");
        else if (c->is_pipe && supervised)
          check.error(at(key), g.name + ": a pipe end belongs to one process: a supervised actor "
                                        "cannot use pipe '" + ch + "' (use a queue)");
      }
      if (supervised && in_process) {
        if (g.role.crash_rate > 0 && !g.own_process)
          check.error(at("crash_rate"), g.name + ": crash_rate on an actor inside actors-run would "
                                                 "abort actors-run itself: give it where = \"process\"");
      } else if (g.in_process && (g.restart || g.role.crash_rate > 0))
        check.error(at(g.restart ? "restart" : "crash_rate"),
                    g.name + ": an actor runs inside actors-run: it cannot crash or be "
                             "restarted (make it a [processes." + g.name + "])");
      g.role.seed = seed++;
      topo.groups.push_back(g);
    });
  for (auto& s : topo.supervisors) {
    bool taken = find_channel(s.name) != nullptr;
    for (auto& g : topo.groups)
      taken = taken || g.name == s.name;
    if (taken)
      check.error(s.line, "supervisor " + s.name + ": the name is taken by a queue, pipe or group "
                                                   "(names are shared in the views and in --dot)");
  }
  if (topo.groups.empty() && check.errors.empty())
    check.error(1, "the file names no [processes.*] or [actors.*]");
  for (auto& c : topo.channels) {
    int readers = 0, writers = 0;
    for (auto& g : topo.groups) {
      readers += g.input == c.name ? g.replicas : 0;
      writers += g.output == c.name ? g.replicas : 0;
    }
    if (c.is_pipe && (readers != 1 || writers != 1))
      check.error(c.line, "pipe '" + c.name + "' needs exactly one reader and one writer, not "
                            + std::to_string(readers) + " and " + std::to_string(writers));
    else if (!c.is_pipe && readers == 0)
      check.error(c.line, "queue '" + c.name + "' has no reader: nothing would take its items "
                            "(give a group input = \"" + c.name + "\", or remove the queue)");
  }
  if (!check.errors.empty()) {
    std::stable_sort(check.errors.begin(), check.errors.end(),
                     [](const file_error& x, const file_error& y) { return x.line < y.line; });
    errors = std::move(check.errors);
    return std::nullopt;
  }
  return topo;
}

std::string dot(const topology& t) {
  std::ostringstream out;
  out << "digraph topology {\n  rankdir=LR;\n";
  for (auto& c : t.channels)
    out << "  \"" << c.name << "\" [shape=" << (c.is_pipe ? "cds" : "cylinder") << ", label=\""
        << c.name << "\\n" << (c.is_pipe ? "pipe" : "queue")
        << (c.maxsize ? "(" + std::to_string(c.maxsize) + ")" : "") << "\"];\n";
  for (auto& g : t.groups) {
    out << "  \"" << g.name << "\" [shape="
        << (!g.in_process ? "box" : g.own_process ? "box, style=rounded" : "ellipse") << ", label=\"" << g.name << "\\n" << g.role.role << " x" << g.replicas << "\"];\n";
    if (!g.input.empty())
      out << "  \"" << g.input << "\" -> \"" << g.name << "\";\n";
    if (!g.output.empty())
      out << "  \"" << g.name << "\" -> \"" << g.output << "\";\n";
  }
  // Supervision: supervisors are octagons; a dashed edge, with an open
  // diamond at its start, goes from each supervisor to each of its
  // children, labelled with the child's restart type.
  for (auto& s : t.supervisors)
    out << "  \"" << s.name << "\" [shape=octagon, style=dashed, label=\"" << s.name << "\\n"
        << strategy_name(s.strategy) << "\\n" << s.intensity << " in " << s.period << " s\"];\n";
  for (auto& s : t.supervisors)
    for (auto& c : t.children_of(s.name))
      out << "  \"" << s.name << "\" -> \"" << c.name() << "\" [style=dashed, arrowtail=odiamond, "
          << "dir=both, color=gray40, label=\""
          << restart_name(c.sup ? c.sup->restart : c.group->restart_type)
          << (c.group && c.group->own_process ? ", own process" : "") << "\"];\n";
  out << "}\n";
  return out.str();
}

// -- running it ----------------------------------------------------------------------

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) {
  interrupted = true;
}

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

actors::supervisor_options options_of(const supervisor_spec& s) {
  return actors::supervisor_options()
    .strategy(s.strategy)
    .intensity(s.intensity, std::chrono::duration_cast<actors::duration>(
                              std::chrono::duration<double>(s.period)))
    .name(s.name);
}

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

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  CLI::App app{"actors-run: runs a libactors topology described in a TOML file, with a live "
               "view of its processes, actors and queues"};
  std::string file;
  bool print_dot = false, no_view = false;
  int interval_ms = 500;
  std::optional<int> seconds;
  app.add_option("file", file, "the topology file (see docs/tools.md)")->required();
  app.add_flag("--dot", print_dot, "print the topology as Graphviz and exit");
  app.add_flag("--no-view", no_view, "no live view; print the summary at the end");
  app.add_option("--interval", interval_ms, "live view refresh, in milliseconds")
    ->check(CLI::Range(50, 60000));
  app.add_option("--duration", seconds, "stop everything after this many seconds")
    ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<file_error> errors;
  auto parsed = parse(file, errors);
  if (!parsed) {
    for (auto& e : errors)
      std::cerr << file << ":" << e.line << ": " << e.message << '\n';
    std::cerr << "actors-run: " << errors.size() << (errors.size() == 1 ? " mistake" : " mistakes")
              << " in " << file << "; nothing was started\n";
    return 2;
  }
  auto& topo = *parsed;
  if (print_dot) {
    std::cout << dot(topo);
    return 0;
  }
  std::signal(SIGINT, on_sigint);
  bool view = !no_view && ::isatty(STDOUT_FILENO);
  runner r(topo, view, std::chrono::milliseconds(interval_ms));
  std::optional<std::chrono::seconds> duration;
  if (seconds)
    duration = std::chrono::seconds(*seconds);
  try {
    return r.run(duration);
  } catch (const actors::error& e) {
    std::cerr << "actors-run: " << e.what() << '\n';
    return 1;
  }
}
