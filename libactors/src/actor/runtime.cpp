// The actor runtime's start and stop: the transport's handlers, the node's
// CAF system, what actors-top sees, and the node's stop. Its other parts:
// cells, peers, remote_calls, links, hosting, registry (runtime_state.hpp).

#include "actor/runtime_state.hpp"

namespace actors {
namespace detail {

using namespace actor_wire;

namespace {

std::mutex runtime_mtx;
transport* bound_transport = nullptr;

} // namespace

// -- the runtime's start ------------------------------------------------------------------

std::atomic<transport*> runtime_ready{nullptr}; // the transport the handlers are on
std::atomic<caf::actor_system*> runtime_system{nullptr}; // the node's, once runtime_ready

// -- what actors-top sees -----------------------------------------------------------

void set_supervision(actor_cell& c, std::string supervisor, std::uint32_t restarts) {
  std::lock_guard<std::mutex> lock(c.mtx);
  c.supervisor = std::move(supervisor);
  c.restarts = restarts;
}

namespace {

// The node's live actors, in the order they were spawned.
void actor_stats_of(node_stats& s) {
  std::vector<std::shared_ptr<actor_cell>> cells;
  {
    auto& t = table();
    std::lock_guard<std::mutex> lock(t.mtx);
    for (auto& [id, c] : t.live)
      cells.push_back(c);
  }
  std::sort(cells.begin(), cells.end(),
            [](auto& a, auto& b) { return a->address.id < b->address.id; });
  for (auto& c : cells) {
    actor_stats a;
    a.name = c->address.name;
    a.type = c->kind ? c->kind->pretty : name_base(c->address.type.c_str());
    a.pid = c->address.pid;
    a.depth = c->queued.load(std::memory_order_relaxed);
    a.handled = c->handled.load(std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(c->mtx);
      a.supervisor = c->supervisor;
      a.restarts = c->restarts;
    }
    s.actors.push_back(std::move(a));
  }
}

} // namespace

// The transport with this runtime's handlers on it. Starts no CAF thread:
// a root that only serves the registry to its children stays without them.
std::atomic<transport*> handlers_ready{nullptr};

transport& ensure_handlers() {
  if (auto* t = handlers_ready.load(std::memory_order_acquire); t && t == transport::running_fast())
    return *t;
  auto& tr = transport::get();
  std::lock_guard<std::mutex> lock(runtime_mtx);
  if (bound_transport != &tr) {
    bound_transport = &tr;
    tr.on(op_call, [](const peer_ptr& p, const char* d, std::size_t n) { on_call(p, d, n, false); });
    tr.on(op_counted_call,
          [](const peer_ptr& p, const char* d, std::size_t n) { on_call(p, d, n, true); });
    tr.on(op_room, on_room);
    tr.on(op_reply, deliver_reply);
    tr.on(op_monitor, on_monitor);
    tr.on(op_down, on_down);
    tr.on(op_link, on_link);
    tr.on(op_spawn, on_spawn);
    tr.on(op_registry, on_registry);
    tr.on(op_why, on_why);
    tr.on(op_hello, on_hello);
    tr.on(op_stop, on_stop_request);
    static bool registered = (add_stats_source(&actor_stats_of), true);
    (void) registered;
    tr.on_close(fail_peer);
    tr.on_read_end(post_open_batch);
    tr.set_outbound_tick(std::chrono::milliseconds(watch_every_ms.load()), watchdog);
  }
  handlers_ready.store(&tr, std::memory_order_release);
  return tr;
}

caf::actor_system& ensure_actor_runtime() {
  if (auto* t = runtime_ready.load(std::memory_order_acquire); t && t == transport::running_fast())
    return *runtime_system.load(std::memory_order_relaxed);
  auto& tr = ensure_handlers();
  auto& sys = actors::system();
  tr.bind_system(sys); // actors may now run on its loops
  runtime_system.store(&sys, std::memory_order_relaxed);
  // actors-top can watch the actors: the queue server's thread answers it
  // (the transport's loops may be busy running an actor). A spare opens it
  // once it has reported its actor (serve_until_stopped): it costs
  // 0.2-0.6 ms, most of a spawn in a spare.
  if (!control_endpoint_deferred)
    start_control_endpoint();
  runtime_ready.store(&tr, std::memory_order_release);
  return sys;
}

void start_actor_runtime() {
  ensure_actor_runtime();
}

void prepare_actor_runtime() {
  ensure_handlers().bind_system(actors::system());
  control_endpoint_deferred = true; // until its actor is reported
}

namespace {
std::atomic<int> cached_pid{0};
}

int self_pid() noexcept {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr, [] { cached_pid.store(0, std::memory_order_relaxed); });
    return true;
  }();
  (void) registered;
  int pid = cached_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = ::getpid();
    cached_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

bool actor_runtime_ready() noexcept {
  auto* n = current_node();
  return n && n->sys;
}

// -- the node's stop ----------------------------------------------------------------------

namespace {
std::atomic<bool> stopping{false};
}

bool node_stopping() noexcept {
  return stopping.load();
}

void stop_actor_runtime() noexcept {
  stopping = true;
  std::vector<std::shared_ptr<actor_cell>> cells;
  {
    auto& t = table();
    std::lock_guard<std::mutex> lock(t.mtx);
    for (auto& [id, c] : t.live)
      cells.push_back(c);
  }
  for (auto& c : cells) {
    {
      std::lock_guard<std::mutex> lock(c->mtx);
      auto& r = c->more_locked().reason;
      if (r.what == down_reason::kind::normal && r.message.empty())
        r.message = "its node stopped";
    }
    caf::anon_send_exit(c->handle, caf::exit_reason::user_shutdown);
  }
  if (!cells.empty())
    if (auto* n = current_node(); n && n->sys)
      if (auto* sched = dynamic_cast<caf::scheduler::test_coordinator*>(&n->sys->scheduler()))
        sched->run(); // a deterministic test's node: nothing runs unless stepped
  { // wait (boundedly) until each has run its on_stop
    auto& t = table();
    std::unique_lock<std::mutex> lock(t.mtx);
    t.none_live.wait_for(lock, std::chrono::seconds(5), [&] { return t.live.empty(); });
  }
  stop_transport();
  stopping = false; // a later node of this process starts afresh
}

void drop_inherited_actors() noexcept {
  // In a fork()ed child: the parent's actors, loops and locks are not
  // here. Their state is leaked on purpose, never destroyed or locked.
  drop_inherited_transport();
  drop_inherited_spares();
  // Kept reachable (never destroyed or locked), so a leak checker at exit
  // sees no leak.
  static auto* inherited = new std::vector<actor_table*>;
  static auto* inherited_children = new std::vector<child_endpoints*>;
  inherited->push_back(table_ptr());
  table_ptr() = new actor_table;
  inherited_children->push_back(children_ptr());
  children_ptr() = new child_endpoints;
  bound_transport = nullptr;
}

} // namespace detail
void set_heartbeat(duration every, duration stopped_limit) {
  auto every_ms = std::chrono::duration_cast<std::chrono::milliseconds>(every).count();
  auto limit_ms = std::chrono::duration_cast<std::chrono::milliseconds>(stopped_limit).count();
  if (every_ms < 1 || limit_ms < every_ms)
    throw error(errc::bad_argument, "set_heartbeat: the period must be at least 1 ms and the "
                                    "limit at least the period");
  detail::watch_every_ms = every_ms;
  detail::stopped_limit_ms = limit_ms;
  if (auto* tr = detail::transport::running())
    tr->set_outbound_tick(std::chrono::milliseconds(every_ms), detail::watchdog);
}

} // namespace actors
