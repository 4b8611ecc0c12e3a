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
  int line = 0;
};

struct topology {
  std::vector<channel_spec> channels;
  std::vector<group_spec> groups;
};

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
  static const char* sections[] = {"queues", "pipes", "processes", "actors"};
  for (auto& [kind, node] : doc)
    if (std::none_of(std::begin(sections), std::end(sections),
                     [&](const char* s) { return kind.str() == s; }))
      check.error(line_of(node), "unknown section '" + std::string(kind.str())
                                   + "': expected [queues.NAME], [pipes.NAME], "
                                     "[processes.NAME] or [actors.NAME]");
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
                                         "replicas",   "restart"};
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
      auto restart = check.get_or<std::string>(spec, g.name, "restart", "never");
      if (restart != "never" && restart != "on-failure")
        check.error(at("restart"), g.name + ": restart must be never or on-failure, not '" + restart + "'");
      g.restart = restart == "on-failure";
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
      }
      if (g.in_process && (g.restart || g.role.crash_rate > 0))
        check.error(at(g.restart ? "restart" : "crash_rate"),
                    g.name + ": an actor runs inside actors-run: it cannot crash or be "
                             "restarted (make it a [processes." + g.name + "])");
      g.role.seed = seed++;
      topo.groups.push_back(g);
    });
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
    out << "  \"" << g.name << "\" [shape=" << (g.in_process ? "ellipse" : "box")
        << ", label=\"" << g.name << "\\n" << g.role.role << " x" << g.replicas << "\"];\n";
    if (!g.input.empty())
      out << "  \"" << g.input << "\" -> \"" << g.name << "\";\n";
    if (!g.output.empty())
      out << "  \"" << g.name << "\" -> \"" << g.output << "\";\n";
  }
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

class runner {
public:
  runner(const topology& t, bool view, std::chrono::milliseconds interval)
    : topo_(t), view_(view), interval_(interval) {}

  int run(std::optional<std::chrono::seconds> duration);

private:
  endpoint endpoint_of(const std::string& name, bool reading);
  void start(group_run& g, instance& i);
  bool all_writers_done(const std::string& channel) const;
  void send_end_markers();
  std::int64_t processed(const group_run& g) const;
  void draw(double dt);
  void summary(clock_type::time_point now, const char* how);

  const topology& topo_;
  bool view_;
  std::chrono::milliseconds interval_;
  std::map<std::string, actors::queue<item>> queues_;
  std::map<std::string, std::pair<actors::connection<item>, actors::connection<item>>> pipes_;
  // End markers still to send to a channel's readers, once its writers ended.
  std::map<std::string, int> markers_left_;
  std::vector<group_run> groups_;
  std::optional<actors::array<std::int64_t>> counters_;
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
void row(std::ostream& out, const group_run& g, std::int64_t processed, double rate) {
  int running = 0;
  std::string codes;
  for (auto& i : g.instances) {
    running += i.done ? 0 : 1;
    if (i.done)
      codes += (codes.empty() ? "" : " ") + std::to_string(i.exitcode);
  }
  out << std::setw(16) << g.spec->name << std::setw(10)
      << (g.spec->in_process ? "actor" : "process") << std::setw(10) << running
      << std::setw(10) << g.restarts << std::setw(14) << processed << std::setw(14)
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
    table::row(out, g, n, dt > 0 ? static_cast<double>(n - g.last_processed) / dt : 0);
    g.last_processed = n;
  }
  out << '\n' << std::setw(16) << "queue" << std::setw(10) << "depth" << "maxsize\n";
  for (auto& [name, q] : queues_)
    out << std::setw(16) << name << std::setw(10) << q.qsize() << q.maxsize() << '\n';
  std::cout << out.str() << std::flush;
}

// The summary: items/s is the average over the group's run, from the start
// until the group finished or was told to stop (Ctrl-C, --duration), however
// the run ended.
void runner::summary(clock_type::time_point now, const char* how) {
  std::ostringstream out;
  out << (view_ ? "\n" : "") << "actors-run summary: " << how << " after " << std::fixed << std::setprecision(1)
      << std::chrono::duration<double>(now - t0_).count() << " s\n\n";
  table::header(out, "avg items/s");
  for (auto& g : groups_) {
    double secs = std::chrono::duration<double>(g.ended.value_or(now) - t0_).count();
    auto n = processed(g);
    table::row(out, g, n, secs > 0 ? static_cast<double>(n) / secs : 0);
  }
  out << '\n' << std::setw(16) << "queue" << std::setw(10) << "depth" << "maxsize\n";
  for (auto& [name, q] : queues_)
    out << std::setw(16) << name << std::setw(10) << q.qsize() << q.maxsize() << '\n';
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
  std::size_t slot = 0;
  for (auto& g : topo_.groups) {
    group_run run{&g, std::vector<instance>(static_cast<std::size_t>(g.replicas)), 0, 0, {}};
    for (auto& i : run.instances) {
      i.role = g.role;
      i.role.slot = slot++;
    }
    groups_.push_back(std::move(run));
  }
  t0_ = clock_type::now();
  for (auto& g : groups_)
    for (auto& i : g.instances)
      start(g, i);

  auto last_draw = t0_;
  const char* how = "finished";
  for (;;) {
    bool stopping = stop_.is_set();
    // Reap what ended; restart what failed and may be restarted.
    bool all_done = true;
    for (auto& g : groups_) {
      bool group_done = true;
      for (auto& i : g.instances) {
        if (!i.done) {
          if (i.actor) {
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
    if (!stopping && (interrupted || (duration && now - t0_ >= *duration))) {
      how = interrupted ? "stopped by Ctrl-C" : "stopped by --duration";
      for (auto& g : groups_)
        if (!g.ended)
          g.ended = now; // what is processed while stopping is not part of the rate
      stop_.set();       // every role checks it at least every 100 ms
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
  summary(clock_type::now(), how);
  if (interrupted)
    std::cout << "stopped by Ctrl-C: every process and actor has exited\n";
  bool stopped = stop_.is_set();
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
