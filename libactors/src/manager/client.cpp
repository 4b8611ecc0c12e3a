// The client side of a manager: each proxy call is one request on a pooled
// connection (manager_call), and actors::manager starts the server process.

#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/manager.hpp>
#include <actors/pipe.hpp>
#include <actors/process.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "io/route.hpp"
#include "io/transport.hpp"
#include "runtime/runtime.hpp"
#include "io/wire.hpp"
#include "manager/protocol.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <list>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>

#include <mutex>
#include <optional>

namespace actors::detail {

namespace {

// A process's idle connections to one manager, reused across calls and
// threads. A fork()ed child starts afresh.
struct link {
  std::mutex mtx;
  std::vector<unique_fd> idle;
};

std::mutex links_mtx;
std::unordered_map<std::string, std::shared_ptr<link>> links;
int links_pid = 0;

std::shared_ptr<link> link_to(const std::string& path) {
  std::lock_guard<std::mutex> lock(links_mtx);
  if (links_pid != ::getpid()) {
    for (auto& [p, l] : links) // inherited by fork: the parent's, not ours
      for (auto& fd : l->idle)
        fd.reset();
    links.clear();
    links_pid = ::getpid();
  }
  auto& l = links[path];
  if (!l)
    l = std::make_shared<link>();
  return l;
}

// Closes this process's idle connections to the manager at `path` (it is
// being shut down: they would stay open for good).
void forget_links(const std::string& path) {
  std::shared_ptr<link> l;
  {
    std::lock_guard<std::mutex> lock(links_mtx);
    auto it = links.find(path);
    if (it == links.end())
      return;
    l = std::move(it->second);
    links.erase(it);
  }
  std::lock_guard<std::mutex> lock(l->mtx);
  l->idle.clear();
}

eof_error manager_gone(const managed_address& a) {
  return eof_error("the manager process (pid " + std::to_string(a.manager_pid)
                   + ") is gone: its objects cannot be reached any more");
}

} // namespace

manager_reply manager_call(const managed_address& a, mop op, const std::string& args,
                           duration timeout) {
  auto l = link_to(a.path);
  unique_fd fd;
  {
    std::lock_guard<std::mutex> lock(l->mtx);
    if (!l->idle.empty()) {
      fd = std::move(l->idle.back());
      l->idle.pop_back();
    }
  }
  if (!fd) {
    try {
      fd = connect_endpoint(a.path);
    } catch (const error&) { // a manager on another host that cannot be reached
      throw manager_gone(a);
    }
    if (!fd)
      throw manager_gone(a);
  }
  std::string req;
  req += static_cast<char>(op);
  put(req, a.id);
  put(req, static_cast<std::uint64_t>(current_tid()));
  put(req, static_cast<std::int64_t>(timeout == forever ? -1 : std::max<long long>(0, timeout.count())));
  req += args;
  if (req.size() > frame_cap())
    throw error(errc::frame_too_large, "a managed object's request is over the frame cap");
  if (!send_frame(fd.get(), frame_kind::object, req.data(), req.size(), {}))
    throw manager_gone(a);
  frame_header h;
  std::string payload, why;
  std::vector<int> fds;
  if (recv_frame(fd.get(), h, payload, fds, forever, why) != recv_status::ok || payload.empty())
    throw manager_gone(a);
  {
    std::lock_guard<std::mutex> lock(l->mtx);
    l->idle.push_back(std::move(fd));
  }
  manager_reply r;
  auto s = static_cast<status>(payload[0]);
  r.body = payload.substr(1);
  if (s == st_error) {
    auto [code, message] = decode<std::pair<int, std::string>>(r.body);
    throw error(static_cast<errc>(code), message);
  }
  r.flag = s == st_owner_died;
  r.timed_out = s == st_timed_out;
  return r;
}

} // namespace actors::detail

namespace actors {

struct manager::state {
  std::optional<process> proc;
};

manager::manager() : state_(std::make_unique<state>()) {
  detail::start_control_endpoint(); // actors-top can watch the manager process
  auto [rx, tx] = pipe<std::string>(false);
  process p(detail::manager_main, tx);
  static std::atomic<int> managers{0};
  p.daemon(true);
  p.name("SyncManager-" + std::to_string(++managers));
  {
    detail::no_actor_hosting internal; // it serves objects, not actors
    p.start();
  }
  tx.close();
  try {
    path_ = rx.recv(std::chrono::seconds(30));
  } catch (const error& e) {
    detail::join_or_kill(p, duration::zero());
    throw error(errc::system_error, std::string("the manager process did not start: ") + e.what());
  }
  pid_ = p.pid();
  state_->proc.emplace(std::move(p));
}

manager::~manager() {
  // A destructor cannot throw: what went wrong is logged, not lost.
  try {
    shutdown();
  } catch (const std::exception& e) {
    log::error() << "manager (pid " << pid_ << "): shutting it down failed: " << e.what();
  } catch (...) {
    log::error() << "manager (pid " << pid_ << "): shutting it down failed";
  }
}

void manager::shutdown() {
  if (!state_->proc)
    return;
  try {
    detail::manager_call({path_, 0, pid_}, detail::mop::shutdown, {});
  } catch (const eof_error&) {
  }
  detail::forget_links(path_);
  if (!detail::join_or_kill(*state_->proc, std::chrono::seconds(2)))
    log::warning() << "manager (pid " << pid_
                   << ") did not stop within 2 s of its shutdown request; killed";
  state_->proc.reset();
}

detail::managed_address manager::create(detail::mkind kind) {
  std::string args(1, static_cast<char>(kind));
  auto r = detail::manager_call({path_, 0, pid_}, detail::mop::create, args);
  return {path_, detail::decode<std::uint32_t>(r.body), pid_};
}

} // namespace actors
