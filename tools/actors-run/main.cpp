// actors-run: runs a topology described in a TOML file (queues, pipes,
// groups of processes and in-process actors, each with a built-in role),
// shows a live view while it runs, and stops everything cleanly on Ctrl-C.
// The file format is in docs/tools.md; examples/topologies/ has samples.

#include <actors/all.hpp>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
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
  void put(const item& v) {
    if (queue)
      queue->put(v);
    else
      pipe->send(v);
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
  std::uint64_t seed = 1;
  std::size_t slot = 0; // this instance's counters: processed at 2*slot, sum at 2*slot+1
  template <class Archive>
  void serialize(Archive& ar) {
    ar(group, role, op, count, rate, delay_us, crash_rate, seed, slot);
  }
};

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
/// count is reached, or `stop` is set.
void run_role(role_config cfg, endpoint in, endpoint out, actors::array<std::int64_t> counters,
              actors::event stop) {
  if (actors::parent_process()) // a process of ours: Ctrl-C is actors-run's to handle
    std::signal(SIGINT, SIG_IGN);
  std::mt19937_64 rng(cfg.seed);
  std::uniform_real_distribution<double> chance(0, 1);
  auto& processed = counters[2 * cfg.slot];
  auto& sum = counters[2 * cfg.slot + 1];
  auto after_item = [&](std::int64_t v) {
    processed.fetch_add(1);
    sum.fetch_add(v);
    if (cfg.delay_us > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(cfg.delay_us));
    if (cfg.crash_rate > 0 && chance(rng) < cfg.crash_rate)
      std::abort(); // a crash on purpose, to show restarts
  };
  if (cfg.role == "produce") {
    auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = processed.load() + 1; cfg.count == 0 || i <= cfg.count; ++i) {
      if (stop.is_set())
        return;
      if (cfg.rate > 0)
        std::this_thread::sleep_until(start + std::chrono::duration<double>(
                                                (i - 1) / cfg.rate));
      out.put(i);
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
    if (cfg.role == "transform")
      out.put(r);
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

template <class T>
T get_or(const toml::table& t, const char* key, T fallback) {
  auto* n = t.get(key);
  if (!n)
    return fallback;
  if (auto v = n->value<T>())
    return *v;
  throw file_error{line_of(*n), std::string("'") + key + "' has the wrong type"};
}

// Calls fn(name, table, line) for each entry of section [kind], checking
// that the section and each entry are tables.
template <class F>
void each_entry(const toml::table& doc, const char* kind, F&& fn) {
  auto* section = doc.get(kind);
  if (!section)
    return;
  auto* t = section->as_table();
  if (!t)
    throw file_error{line_of(*section), std::string("[") + kind + "] must be a table"};
  for (auto& [name, node] : *t) {
    auto* spec = node.as_table();
    if (!spec)
      throw file_error{line_of(node), std::string(name.str()) + " must be a table"};
    fn(std::string(name.str()), *spec, line_of(node));
  }
}

topology parse(const std::string& path) {
  toml::table doc;
  try {
    doc = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw file_error{static_cast<int>(e.source().begin.line), std::string(e.description())};
  }
  topology topo;
  for (auto& [kind, is_pipe] : {std::pair<const char*, bool>{"queues", false}, {"pipes", true}})
    each_entry(doc, kind, [&, is_pipe = is_pipe](std::string name, const toml::table& spec, int line) {
      channel_spec c{std::move(name), is_pipe, 0, line};
      auto maxsize = get_or<std::int64_t>(spec, "maxsize", 0);
      if (maxsize < 0)
        throw file_error{c.line, "maxsize must not be negative"};
      c.maxsize = static_cast<std::uint64_t>(maxsize);
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
    each_entry(doc, kind, [&, in_process = in_process](std::string name, const toml::table& spec, int line) {
      group_spec g;
      g.name = std::move(name);
      g.in_process = in_process;
      g.line = line;
      for (auto& [key, value] : spec) {
        static const char* known_keys[] = {"role",  "op",       "count",      "rate",
                                           "delay_us", "crash_rate", "input", "output",
                                           "replicas", "restart"};
        if (std::none_of(std::begin(known_keys), std::end(known_keys),
                         [&](const char* k) { return key.str() == k; }))
          throw file_error{line_of(value), "unknown key '" + std::string(key.str()) + "' in "
                                             + g.name};
      }
      g.role.group = g.name;
      g.role.role = get_or<std::string>(spec, "role", "");
      if (g.role.role != "produce" && g.role.role != "transform" && g.role.role != "sink")
        throw file_error{g.line, g.name + ": role must be produce, transform or sink, not '"
                                   + g.role.role + "'"};
      g.role.op = get_or<std::string>(spec, "op", "identity");
      if (g.role.op != "identity" && g.role.op != "square" && g.role.op != "double"
          && g.role.op != "increment")
        throw file_error{g.line, g.name + ": op must be identity, square, double or increment"};
      g.role.count = get_or<std::int64_t>(spec, "count", 0);
      g.role.rate = get_or<double>(spec, "rate", 0.0);
      g.role.delay_us = get_or<std::int64_t>(spec, "delay_us", 0);
      g.role.crash_rate = get_or<double>(spec, "crash_rate", 0.0);
      g.input = get_or<std::string>(spec, "input", "");
      g.output = get_or<std::string>(spec, "output", "");
      g.replicas = static_cast<int>(get_or<std::int64_t>(spec, "replicas", 1));
      auto restart = get_or<std::string>(spec, "restart", "never");
      if (restart != "never" && restart != "on-failure")
        throw file_error{g.line, g.name + ": restart must be never or on-failure"};
      g.restart = restart == "on-failure";
      if (g.replicas < 1)
        throw file_error{g.line, g.name + ": replicas must be at least 1"};
      bool needs_in = g.role.role != "produce", needs_out = g.role.role != "sink";
      if (needs_in != !g.input.empty())
        throw file_error{g.line, g.name + (needs_in ? ": needs an input" : ": a producer has no input")};
      if (needs_out != !g.output.empty())
        throw file_error{g.line, g.name + (needs_out ? ": needs an output" : ": a sink has no output")};
      for (auto* ch : {&g.input, &g.output}) {
        if (ch->empty())
          continue;
        auto* c = find_channel(*ch);
        if (!c)
          throw file_error{g.line, g.name + ": no queue or pipe named '" + *ch + "'"};
        if (c->is_pipe && (g.replicas > 1 || g.restart))
          throw file_error{g.line, g.name + ": a pipe end belongs to one process: no replicas "
                                            "or restarts on pipe '" + *ch + "'"};
      }
      if (g.in_process && (g.restart || g.role.crash_rate > 0))
        throw file_error{g.line, g.name + ": an actor runs inside actors-run: it cannot crash "
                                          "or be restarted"};
      g.role.seed = seed++;
      topo.groups.push_back(g);
    });
  if (topo.groups.empty())
    throw file_error{1, "the file names no [processes.*] or [actors.*]"};
  for (auto& c : topo.channels) {
    int readers = 0, writers = 0;
    for (auto& g : topo.groups) {
      readers += g.input == c.name ? g.replicas : 0;
      writers += g.output == c.name ? g.replicas : 0;
    }
    if (c.is_pipe && (readers != 1 || writers != 1))
      throw file_error{c.line, "pipe '" + c.name + "' needs exactly one reader and one writer"};
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

struct instance {
  std::optional<actors::process> proc;
  std::optional<actors::thread> actor;
  role_config role;
  bool done = false;
  int exitcode = 0;
};

struct group_run {
  const group_spec* spec;
  std::vector<instance> instances;
  int restarts = 0;
  std::int64_t last_processed = 0;
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
  void draw(double dt, bool final);

  const topology& topo_;
  bool view_;
  std::chrono::milliseconds interval_;
  std::map<std::string, actors::queue<item>> queues_;
  std::map<std::string, std::pair<actors::connection<item>, actors::connection<item>>> pipes_;
  std::map<std::string, bool> ended_; // end markers sent to a channel's readers
  std::vector<group_run> groups_;
  std::optional<actors::array<std::int64_t>> counters_;
  actors::event stop_;
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

void runner::draw(double dt, bool final) {
  std::ostringstream out;
  if (view_ && !final)
    out << "\x1b[H\x1b[2J";
  out << (final ? "summary" : "actors-run") << "  (Ctrl-C stops everything)\n\n";
  out << std::left << std::setw(16) << "group" << std::setw(10) << "kind" << std::setw(10)
      << "running" << std::setw(10) << "restarts" << std::setw(14) << "processed"
      << std::setw(14) << "items/s" << "exit codes\n";
  for (auto& g : groups_) {
    std::int64_t processed = 0;
    int running = 0;
    std::string codes;
    for (auto& i : g.instances) {
      processed += (*counters_)[2 * i.role.slot].load();
      running += i.done ? 0 : 1;
      if (i.done)
        codes += (codes.empty() ? "" : " ") + std::to_string(i.exitcode);
    }
    double rate = dt > 0 ? static_cast<double>(processed - g.last_processed) / dt : 0;
    g.last_processed = processed;
    out << std::setw(16) << g.spec->name << std::setw(10)
        << (g.spec->in_process ? "actor" : "process") << std::setw(10) << running
        << std::setw(10) << g.restarts << std::setw(14) << processed << std::setw(14)
        << static_cast<std::int64_t>(rate) << codes << '\n';
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
    group_run run{&g, std::vector<instance>(static_cast<std::size_t>(g.replicas)), 0, 0};
    for (auto& i : run.instances) {
      i.role = g.role;
      i.role.slot = slot++;
      i.role.seed = g.role.seed * 1000 + i.role.slot;
    }
    groups_.push_back(std::move(run));
  }
  for (auto& g : groups_)
    for (auto& i : g.instances)
      start(g, i);

  auto t0 = std::chrono::steady_clock::now();
  auto last_draw = t0;
  bool stopping = false;
  for (;;) {
    // Reap what ended; restart what failed and may be restarted.
    bool all_done = true;
    for (auto& g : groups_) {
      for (auto& i : g.instances) {
        if (i.done)
          continue;
        if (i.actor) {
          if (!i.actor->is_alive())
            i.done = true;
        } else if (i.proc->join(0s)) {
          i.exitcode = *i.proc->exitcode();
          i.done = true;
          if (i.exitcode != 0 && g.spec->restart && !stopping) {
            ++g.restarts;
            start(g, i);
          }
        }
        all_done = all_done && i.done;
      }
    }
    if (all_done)
      break;
    // A channel whose writers all ended: one end marker per reader.
    for (auto& c : topo_.channels) {
      if (ended_[c.name] || !all_writers_done(c.name))
        continue;
      ended_[c.name] = true;
      int readers = 0;
      for (auto& g : groups_)
        readers += g.spec->input == c.name ? static_cast<int>(g.instances.size()) : 0;
      auto w = endpoint_of(c.name, false);
      for (int r = 0; r < readers; ++r)
        w.put(std::nullopt);
    }
    auto now = std::chrono::steady_clock::now();
    if (!stopping && (interrupted || (duration && now - t0 >= *duration))) {
      stopping = true;
      stop_.set(); // every role checks it at least every 100 ms
      auto deadline = now + 2s;
      for (auto& g : groups_)
        for (auto& i : g.instances)
          if (i.proc && !i.done && !i.proc->join(std::max<actors::duration>(
                                     0s, deadline - std::chrono::steady_clock::now())))
            i.proc->terminate();
    }
    if (view_ && now - last_draw >= interval_) {
      draw(std::chrono::duration<double>(now - last_draw).count(), false);
      last_draw = now;
    }
    std::this_thread::sleep_for(20ms);
  }
  draw(std::chrono::duration<double>(std::chrono::steady_clock::now() - last_draw).count(), true);
  if (interrupted)
    std::cout << "stopped by Ctrl-C: every process and actor has exited\n";
  for (auto& g : groups_)
    for (auto& i : g.instances)
      if (i.exitcode != 0 && !g.spec->restart && !stopping)
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

  topology topo;
  try {
    topo = parse(file);
  } catch (const file_error& e) {
    std::cerr << file << ":" << e.line << ": " << e.message << '\n';
    return 2;
  }
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
