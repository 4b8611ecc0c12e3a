// What a node reports to actors-top, and how actors-top asks for it.

#include <actors/detail/serialize.hpp>
#include <actors/process.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats.hpp"

#include <mutex>

namespace actors::detail {

namespace {
std::mutex sources_mtx;
std::vector<void (*)(node_stats&)>& sources() {
  static std::vector<void (*)(node_stats&)> all;
  return all;
}
} // namespace

void add_stats_source(void (*fill)(node_stats&)) {
  std::lock_guard<std::mutex> lock(sources_mtx);
  sources().push_back(fill);
}

node_stats collect_stats() {
  node_stats s;
  auto& n = require_node();
  std::vector<std::shared_ptr<process_state>> kids;
  {
    std::lock_guard<std::recursive_mutex> guard(n.mtx);
    s.pid = n.self->pid;
    s.name = n.self->name;
    s.uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - n.started).count();
    kids = n.children;
  }
  for (auto& k : kids) {
    child_stats c;
    try {
      process p(k);
      c.name = p.name();
      c.pid = p.pid();
      c.alive = p.is_alive();
      c.exitcode = p.exitcode().value_or(0);
      c.method = to_string(p.method());
      c.daemon = p.daemon();
    } catch (const error&) {
      continue; // closed
    }
    s.children.push_back(std::move(c));
  }
  std::vector<void (*)(node_stats&)> fill;
  {
    std::lock_guard<std::mutex> lock(sources_mtx);
    fill = sources();
  }
  for (auto* f : fill)
    f(s);
  return s;
}

std::optional<node_stats> query_stats(const std::string& socket_path, duration timeout) {
  auto fd = connect_unix(socket_path);
  if (!fd)
    return std::nullopt;
  char op = static_cast<char>(stats_request);
  if (!send_frame(fd.get(), frame_kind::object, &op, 1, {}))
    return std::nullopt;
  frame_header h;
  std::string payload, why;
  std::vector<int> fds;
  if (recv_frame(fd.get(), h, payload, fds, timeout, why) != recv_status::ok || payload.size() < 1)
    return std::nullopt;
  return decode<node_stats>(payload.data() + 1, payload.size() - 1);
}

} // namespace actors::detail
