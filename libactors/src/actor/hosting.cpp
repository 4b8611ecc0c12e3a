// Hosting actors in processes: a child that offers to host them, the
// endpoint of a process to spawn into, a process that serves its actors
// until they stop, and spawning into another node.

#include "actor/runtime_state.hpp"

namespace actors::detail {

using namespace actor_wire;

namespace {
thread_local int no_hosting_depth = 0;
}

no_actor_hosting::no_actor_hosting() noexcept {
  ++no_hosting_depth;
}
no_actor_hosting::~no_actor_hosting() {
  --no_hosting_depth;
}
bool no_actor_hosting::active() noexcept {
  return no_hosting_depth > 0;
}

void host_actors_for_parent(const std::string& parent) noexcept {
  try {
    auto& tr = ensure_handlers(); // CAF's threads start with the first actor
    auto p = tr.connect(parent);
    std::string out(1, static_cast<char>(op_hello));
    out += tr.endpoint();
    tr.send(p, out, true);
  } catch (const std::exception& e) {
    log::warning() << "this process cannot host actors for its parent: " << e.what();
  }
}

std::string endpoint_of(const process& proc) {
  auto& s = process_access::state(proc);
  role kind;
  int pid;
  bool started, hosts;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(s.mtx);
    kind = s.kind;
    pid = s.pid;
    started = s.started;
    hosts = s.hosts_actors;
    name = s.name;
  }
  auto who = name + " (pid " + std::to_string(pid) + ")";
  if (kind == role::self) {
    ensure_actor_runtime();
    return transport::get().endpoint();
  }
  if (kind == role::parent) {
    std::lock_guard<std::mutex> lock(root_mtx);
    if (parent_ep.empty())
      throw error(errc::bad_argument, "cannot spawn into the parent " + who
                                        + ": it did not run actors when it started this process");
    return parent_ep;
  }
  if (!started)
    throw error(errc::not_started, "cannot spawn into " + name + ": it was never started");
  if (!hosts)
    throw error(errc::bad_argument,
                "cannot spawn into " + who + ": it was started before this program used "
                  + "actors, so it does not host them; call actors::system() or spawn any "
                  + "actor before starting it (pool workers and managers never host actors)");
  auto& c = *children_ptr();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(c.mtx);
      if (c.known.wait_for(lock, std::chrono::milliseconds(20),
                           [&] { return c.by_pid.count(pid) > 0; }))
        return c.by_pid[pid];
    }
    if (process watched = proc; !watched.is_alive()) {
      auto code = watched.exitcode();
      throw error(errc::eof, "cannot spawn into " + who + ": it has exited"
                               + (code ? " (exitcode " + std::to_string(*code) + ")" : ""));
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw error(errc::timeout, "cannot spawn into " + who
                                   + ": it did not offer to host actors within 30 s");
  }
}

// -- processes that host one actor -------------------------------------------------------

int serve_until_stopped(actor_ref& ref) {
  if (control_endpoint_deferred) {
    control_endpoint_deferred = false;
    start_control_endpoint();
  }
  // The process hosts its first actor and any spawned into it later
  // (in_process_of): it serves until all of them have stopped.
  auto c = ref.local;
  if (!c)
    return 1;
  auto& t = table();
  {
    std::unique_lock<std::mutex> lock(t.mtx);
    t.none_live.wait(lock, [&] { return t.live.empty(); });
  }
  std::lock_guard<std::mutex> lock(c->mtx);
  return c->reason_locked().what == down_reason::kind::normal ? 0 : 1;
}

void report_construction_failure(connection<actor_address>& report) {
  auto [type, what] = current_exception_info();
  actor_address failed;
  failed.name = type;
  failed.type = what;
  try {
    report.send(failed);
  } catch (...) {
  }
}

std::shared_ptr<actor_ref> await_report(connection<actor_address>& report, process& p,
                                        const char* type) {
  std::optional<actor_address> a;
  try {
    a = report.try_recv(std::chrono::seconds(60));
  } catch (const eof_error&) {
  }
  if (!a) {
    p.join(std::chrono::seconds(1));
    auto code = p.exitcode();
    throw error(errc::remote_error, "the process for a " + type_name(type) + " actor (pid "
                                      + std::to_string(p.pid()) + ") ended before the actor ran"
                                      + (code ? ", exit code " + std::to_string(*code) : ""));
  }
  if (a->id == 0) {
    p.join(std::chrono::seconds(1));
    throw remote_error(a->name, a->type, p.pid(), "the constructor of a " + type_name(type) + " actor");
  }
  return ref_for(std::move(*a));
}

std::shared_ptr<actor_ref> spawn_remote(const std::string& endpoint, any_fn spawner, std::string args) {
  if (endpoint.empty())
    throw_empty_handle();
  ensure_actor_runtime();
  auto& tr = transport::get();
  if (endpoint == tr.endpoint()) {
    auto fn = reinterpret_cast<remote_spawner>(spawner);
    return fn(args.data(), args.size());
  }
  auto st = std::make_shared<result_state<actor_address>>();
  auto p = tr.connect(endpoint);
  auto where = encode(locate(spawner));
  auto req = next_request++;
  {
    auto& ps = state_of(p);
    std::lock_guard<std::mutex> lock(ps.mtx);
    ps.pending[req] = {st, "the node at " + endpoint, {}};
      ps.pending_count.fetch_add(1, std::memory_order_relaxed);
  }
  std::string out(1, static_cast<char>(op_spawn));
  put(out, req);
  put(out, static_cast<std::uint32_t>(where.size()));
  out += where;
  out += args;
  tr.send(p, out, true);
  future<actor_address> f(st);
  return ref_for(f.get(std::chrono::seconds(60)));
}

} // namespace actors::detail
