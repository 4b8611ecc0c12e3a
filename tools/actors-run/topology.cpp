// topology.cpp (private to actors-run): reading, checking and drawing the
// topology file; see topology.hpp.

#include "topology.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>
#include <type_traits>

namespace actors_run {

const char* strategy_name(actors::strategy s) {
  return actors::to_string(s);
}

const char* restart_name(actors::restart r) {
  return actors::to_string(r);
}

namespace {

std::optional<actors::restart> restart_of(const std::string& s) {
  for (auto r : {actors::restart::permanent, actors::restart::transient, actors::restart::temporary})
    if (s == restart_name(r))
      return r;
  return std::nullopt;
}

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

} // namespace

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

} // namespace actors_run
