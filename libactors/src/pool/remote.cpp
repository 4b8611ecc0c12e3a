// Pool workers on other hosts of a cluster (pool_options::hosts).
//
// A worker on host h2 is a process of h2's node, started there by a
// worker_agent: an actor that the pool's process spawns on h2 once
// (spawn(on_host)). For each worker the agent opens a private socket; the
// pool dials it through the gateways (io/route.hpp), so the supervisor talks
// to the worker over that connection exactly as over a local socket pair.
// The agent starts the worker with the connection it accepted, watches it,
// and when it exits tells the pool's worker_exits actor its exit code and
// the task it was running (from the worker's own slot, on h2). That answer
// fills the pool's slot and wakes the supervisor through a pipe, the
// worker's sentinel here. If h2 is lost instead, the agent's monitor fires:
// its workers count as killed, and the oldest job each was sent is the one
// that died with it (running_unknown()).

#include "pool/protocol.hpp"
#include "pool/supervisor.hpp"

#include "base/fd.hpp"
#include "io/route.hpp"
#include "runtime/runtime.hpp"

#include <actors/actor_context.hpp>
#include <actors/cluster.hpp>
#include <actors/log.hpp>
#include <actors/spawn.hpp>

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <unordered_map>

#include <unistd.h>

namespace actors::detail {

/// What a worker on another host needs; its socket and slot are made there.
struct remote_worker_boot {
  std::uint64_t maxtasks = 0;
  bool has_init = false;
  code_location init_trampoline, init_target;
  std::string init_payload;
  int method = 0;
  std::string name;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(maxtasks, has_init, init_trampoline, init_target, init_payload, method, name);
  }
};

namespace {

// --- the pool's side -----------------------------------------------------------

struct remote_state {
  std::mutex mtx;
  std::condition_variable cv;
  std::optional<int> code;
  bool lost = false;
  unique_fd sentinel_r, sentinel_w;
  std::shared_ptr<shm_segment> slots;
  std::uint32_t slot = 0;
  std::string host;
};

std::mutex states_mtx;
std::unordered_map<std::uint64_t, std::weak_ptr<remote_state>> states; // by key
std::uint64_t next_key = 1;

// The worker ended (or its host was lost): record it once, wake the loop.
void finish(remote_state& st, int code, std::uint64_t running, bool lost) {
  {
    std::lock_guard<std::mutex> lock(st.mtx);
    if (st.code)
      return;
    st.code = code;
    st.lost = lost;
    if (running)
      reinterpret_cast<std::atomic<std::uint64_t>*>(st.slots->data())[st.slot].store(running);
  }
  st.cv.notify_all();
  char one = 1;
  (void) !::write(st.sentinel_w.get(), &one, 1);
}

} // namespace

/// The pool's process: where agents report their workers' exits.
class worker_exits {
public:
  void exited(std::uint64_t key, int code, std::uint64_t running) {
    std::shared_ptr<remote_state> st;
    {
      std::lock_guard<std::mutex> lock(states_mtx);
      auto it = states.find(key);
      if (it == states.end())
        return;
      st = it->second.lock();
      states.erase(it);
    }
    if (st)
      finish(*st, code, running, false);
  }
};

/// On the worker's host: starts and watches the workers of pools elsewhere.
class worker_agent {
public:
  /// A private socket for one worker's connection; returns its path.
  std::string listen_for_worker() {
    auto server = std::make_unique<private_server>("poolworker");
    auto path = server->path();
    listeners_[path] = std::move(server);
    return path;
  }

  /// Starts a worker on the connection the pool dialled to `path`; returns
  /// its pid. Its exit goes to `report` under `key`.
  int start(std::string path, remote_worker_boot rb, actor<worker_exits> report, std::uint64_t key) {
    auto it = listeners_.find(path);
    if (it == listeners_.end())
      throw error(errc::bad_argument, "pool worker agent: no socket " + path);
    auto server = std::move(it->second);
    listeners_.erase(it);
    int peer = 0;
    unique_fd conn;
    for (int i = 0; i < 100 && !conn; ++i) { // the dial has connected before this call
      conn = accept_same_user(server->fd(), peer, "pool worker agent");
      if (!conn)
        ::usleep(1000);
    }
    if (!conn)
      throw error(errc::eof, "pool worker agent: the pool's connection to " + path + " never came");
    int flags = ::fcntl(conn.get(), F_GETFL);
    ::fcntl(conn.get(), F_SETFL, flags & ~O_NONBLOCK);
    worker_boot boot;
    boot.sock.fd = conn.get();
    boot.slots = std::make_shared<shm_segment>(sizeof(std::uint64_t));
    boot.slot = 0;
    boot.maxtasks = rb.maxtasks;
    boot.has_init = rb.has_init;
    boot.init_trampoline = rb.init_trampoline;
    boot.init_target = rb.init_target;
    boot.init_payload = rb.init_payload;
    no_actor_hosting internal; // a worker runs tasks, not actors
    process p(pool_worker, boot);
    p.daemon(true);
    p.method(static_cast<start_method>(rb.method));
    p.name(rb.name);
    p.start();
    int pid = p.pid();
    workers_.push_back({std::move(p), boot.slots, std::move(report), key});
    if (!polling_) {
      polling_ = true;
      self().after(std::chrono::milliseconds(10), [this] { poll(); });
    }
    return pid;
  }

  /// Sends `sig` (SIGTERM, SIGKILL) to a worker this agent started.
  void signal(int pid, int sig) {
    for (auto& w : workers_)
      if (w.p.pid() == pid)
        sig == SIGKILL ? w.p.kill() : w.p.terminate();
  }

private:
  struct entry {
    process p;
    std::shared_ptr<shm_segment> slot;
    actor<worker_exits> report;
    std::uint64_t key;
  };

  void poll() {
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (!it->p.join(duration::zero())) {
        ++it;
        continue;
      }
      auto running = reinterpret_cast<std::atomic<std::uint64_t>*>(it->slot->data())->load();
      it->report.tell(&worker_exits::exited, it->key, it->p.exitcode().value_or(0), running);
      it = workers_.erase(it);
    }
    polling_ = !workers_.empty();
    if (polling_)
      self().after(std::chrono::milliseconds(10), [this] { poll(); });
  }

  std::map<std::string, std::unique_ptr<private_server>> listeners_;
  std::vector<entry> workers_;
  bool polling_ = false;
};

namespace {

class remote_worker final : public worker_process {
public:
  remote_worker(int pid, std::shared_ptr<remote_state> st, actor<worker_agent> agent, unique_fd sock)
      : pid_(pid), st_(std::move(st)), agent_(std::move(agent)), sock_(std::move(sock)) {}
  int pid() const override { return pid_; }
  bool exited_now() override {
    std::lock_guard<std::mutex> lock(st_->mtx);
    return st_->code.has_value();
  }
  int sentinel() override { return st_->sentinel_r.get(); }
  void join_or_kill() override {
    if (wait(std::chrono::seconds(1)))
      return;
    kill();
    if (!wait(std::chrono::seconds(1)))
      finish(*st_, -SIGKILL, 0, true); // its host does not answer
  }
  void kill() override { agent_.tell(&worker_agent::signal, pid_, static_cast<int>(SIGKILL)); }
  void terminate() override { agent_.tell(&worker_agent::signal, pid_, static_cast<int>(SIGTERM)); }
  std::optional<int> exitcode() override {
    std::lock_guard<std::mutex> lock(st_->mtx);
    return st_->code;
  }
  unique_fd take_socket() override { return std::move(sock_); }
  bool running_unknown() override {
    std::lock_guard<std::mutex> lock(st_->mtx);
    return st_->lost;
  }

private:
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(st_->mtx);
    return st_->cv.wait_for(lock, d, [&] { return st_->code.has_value(); });
  }

  int pid_;
  std::shared_ptr<remote_state> st_;
  actor<worker_agent> agent_;
  unique_fd sock_;
};

std::mutex agents_mtx;
std::map<std::string, actor<worker_agent>> agents; // by host

actor<worker_exits>& exits_actor() {
  static actor<worker_exits> a = spawn<worker_exits>();
  return a;
}

// The agent on `host`, spawned once; when it is gone (its host was lost),
// its workers count as killed.
actor<worker_agent> agent_on(const std::string& host) {
  std::lock_guard<std::mutex> lock(agents_mtx);
  auto it = agents.find(host);
  if (it != agents.end())
    return it->second;
  auto a = spawn<worker_agent>(on_host(host));
  monitor(a, [host](const down& d) {
    {
      std::lock_guard<std::mutex> lock(agents_mtx);
      agents.erase(host);
    }
    std::vector<std::shared_ptr<remote_state>> lost;
    {
      std::lock_guard<std::mutex> lock(states_mtx);
      for (auto it = states.begin(); it != states.end();) {
        auto st = it->second.lock();
        if (st && st->host != host) {
          ++it;
          continue;
        }
        if (st)
          lost.push_back(st);
        it = states.erase(it);
      }
    }
    if (!lost.empty())
      log::warning() << "pool: the host " << host << " was lost with " << lost.size()
                     << " worker(s): " << d.reason.describe();
    for (auto& st : lost)
      finish(*st, -SIGKILL, 0, true);
  });
  agents[host] = a;
  return a;
}

std::unique_ptr<worker_process> start_remote(const std::string& host, const worker_boot& boot,
                                             const std::string& name, start_method method) {
  if (!boot.init_fds.empty())
    throw error(errc::bad_argument,
                "pool: an initializer whose arguments carry descriptors (locks, values, pipe "
                "ends) cannot run on the host " + host + "; descriptors do not cross hosts");
  try {
    auto agent = agent_on(host);
    auto path = agent.ask(&worker_agent::listen_for_worker).get(std::chrono::seconds(30));
    int relay_pid = 0;
    auto sock = dial_remote(host + ":" + path, relay_pid);
    auto st = std::make_shared<remote_state>();
    auto [r, w] = socket_pair(SOCK_STREAM);
    st->sentinel_r = std::move(r);
    st->sentinel_w = std::move(w);
    st->slots = boot.slots;
    st->slot = boot.slot;
    st->host = host;
    std::uint64_t key;
    {
      std::lock_guard<std::mutex> lock(states_mtx);
      key = next_key++;
      states[key] = st;
    }
    remote_worker_boot rb{boot.maxtasks,   boot.has_init, boot.init_trampoline, boot.init_target,
                          boot.init_payload, static_cast<int>(method), name + "@" + host};
    int pid = agent.ask(&worker_agent::start, path, rb, exits_actor(), key).get(std::chrono::seconds(30));
    return std::make_unique<remote_worker>(pid, std::move(st), std::move(agent), std::move(sock));
  } catch (const actor_died&) {
    std::lock_guard<std::mutex> lock(agents_mtx);
    agents.erase(host);
    throw;
  }
}

} // namespace

worker_starter host_workers(std::vector<std::string> hosts, start_method method) {
  for (auto& h : hosts)
    if (h.empty())
      throw error(errc::bad_argument, "pool_options::hosts: an empty host name");
  auto local = process_workers(method);
  auto turn = std::make_shared<std::size_t>(0);
  return [hosts = std::move(hosts), local, turn, method](const worker_boot& boot,
                                                         const std::string& name) {
    // In turn, passing over hosts the cluster has lost (known in the
    // gateway's process; elsewhere every host is tried): a lost host's
    // start would only fail. If all are lost, the next one fails clearly.
    auto up = actors::cluster::hosts();
    auto is_up = [&up](const std::string& h) {
      return up.empty() || h == cluster_host() || std::find(up.begin(), up.end(), h) != up.end();
    };
    std::string host = hosts[*turn % hosts.size()];
    for (std::size_t tried = 0; tried < hosts.size(); ++tried) {
      const auto& h = hosts[(*turn + tried) % hosts.size()];
      if (is_up(h)) {
        host = h;
        *turn += tried;
        break;
      }
    }
    ++*turn;
    if (host == cluster_host())
      return local(boot, name);
    if (cluster_host().empty())
      throw error(errc::bad_argument, "pool_options::hosts: this process is not part of a "
                                      "cluster (see actors::cluster::listen and join)");
    return start_remote(host, boot, name, method);
  };
}

} // namespace actors::detail
