// Actors: each one is a CAF event-based actor of the node's actor system
// whose mailbox holds envelopes (calls, continuations, timers, exit
// signals). Calls between processes travel on the node's transport
// (io/transport.hpp) as frames:
//
//   op      payload (after the op byte)
//   call    u64 actor, u64 request (0: tell), u16 n, n bytes of call header,
//           the arguments (Cereal)
//   counted_call  the same, to a bounded mailbox: answered by `room` once run
//   room    u64 actor, u32 n     (n counted calls of this connection ran or
//                                 were dropped: the sender may send n more)
//   reply   u64 request, u8 status (0 ok, 1 error), the result or a wire_error
//   monitor u64 actor, u64 watch id      -> down when that actor stops
//   down    u64 watch id, down_reason
//   link    u64 actor, actor_address     (that node makes its actor watch the other)
//   spawn   u64 request, u32 n, n bytes of code_location, the arguments
//   registry u64 request, u8 what, name, optional<actor_address>  (root node only)

#include "actor/cell.hpp"

#include "io/transport.hpp"
#include "runtime/runtime.hpp"

#include <actors/actor.hpp>
#include <actors/detail/queue_client.hpp>
#include <actors/detail/stats.hpp>
#include <actors/log.hpp>
#include <actors/node.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cxxabi.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string_view>
#include <pthread.h>
#include <unistd.h>
#include <unordered_map>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actors::detail::envelope_ptr)

namespace actors {

std::string down_reason::describe() const {
  switch (what) {
    case kind::normal:
      return message.empty() ? "stopped normally" : "stopped normally (" + message + ")";
    case kind::exception:
      return "stopped by an exception: " + message;
    case kind::signal:
      return "its process was killed by signal " + std::to_string(signal) + " ("
             + ::strsignal(signal) + ")";
    case kind::exited:
      return "its process exited with code " + std::to_string(exitcode);
    case kind::unreachable:
      return "its node is unreachable: " + message;
    case kind::no_such_actor:
      return "no such actor (it had stopped before)";
    case kind::linked:
      return "a linked actor died: " + message;
  }
  return "unknown";
}

actor_died::actor_died(std::string actor, down_reason reason)
  : error(errc::actor_died, "actor " + actor + " is gone: " + reason.describe()),
    actor_(std::move(actor)), reason_(std::move(reason)) {}

std::uint64_t dropped_messages() noexcept {
  return detail::dropped_count().load();
}

namespace detail {

std::atomic<std::uint64_t>& dropped_count() noexcept {
  static std::atomic<std::uint64_t> n{0};
  return n;
}

namespace {

enum op : std::uint8_t {
  op_call = 0x40,
  op_reply = 0x41,
  op_monitor = 0x42,
  op_down = 0x43,
  op_link = 0x44,
  op_spawn = 0x45,
  op_registry = 0x46,
  op_why = 0x47, // u64 request, i32 pid -> reply with the down_reason of that child
  op_hello = 0x48, // endpoint: a child that hosts actors tells its parent where
  op_counted_call = 0x49,
  op_room = 0x4a,
  op_stop = 0x4b,  // u64 id: stop that actor normally (a supervisor's shutdown)
};

thread_local actor_cell* running_cell = nullptr;

// -- this node's actors -------------------------------------------------------------

struct actor_table {
  std::mutex mtx;
  std::atomic<std::uint64_t> next_id{1};
  std::unordered_map<std::uint64_t, std::shared_ptr<actor_cell>> live;
  // Why recent actors stopped, so a late ask or monitor hears the truth.
  std::unordered_map<std::uint64_t, down_reason> graveyard;
  std::deque<std::uint64_t> graveyard_order;
  std::condition_variable none_live;
};

actor_table*& table_ptr() {
  static actor_table* t = new actor_table; // outlives static handles
  return t;
}

actor_table& table() {
  return *table_ptr();
}

std::shared_ptr<actor_cell> find_live(std::uint64_t id) {
  auto& t = table();
  std::lock_guard<std::mutex> lock(t.mtx);
  auto it = t.live.find(id);
  return it == t.live.end() ? nullptr : it->second;
}

std::mutex runtime_mtx;
transport* bound_transport = nullptr;
std::mutex root_mtx;
std::string root_ep;
std::string parent_ep;
shared_text parent_ep_text;       // parent_ep, shared by this node's actors
shared_text own_ep_text;          // the transport's endpoint, likewise
const transport* own_ep_of = nullptr;

// The endpoints of this node's children that host actors, by pid, from their
// hello; an entry goes when the child's connection closes.
struct child_endpoints {
  std::mutex mtx;
  std::condition_variable known;
  std::unordered_map<int, std::string> by_pid;
};

child_endpoints*& children_ptr() {
  static auto* c = new child_endpoints;
  return c;
}

} // namespace

// -- the CAF actor ------------------------------------------------------------------

class cell_actor : public caf::event_based_actor {
public:
  cell_actor(caf::actor_config& cfg, std::shared_ptr<actor_cell> c)
    : caf::event_based_actor(cfg), cell_(std::move(c)) {}

  caf::behavior make_behavior() override {
    cell_->self = this;
    if (cell_->kind->on_start) {
      run_guarded([this] { cell_->kind->on_start(cell_->obj); });
    }
    return {[this](envelope_ptr& e) {
      run_guarded([&] { e->run(cell_->obj, *cell_); });
      if (auto n = e->counted) {
        cell_->queued.fetch_sub(n, std::memory_order_relaxed);
        cell_->handled.fetch_add(n, std::memory_order_relaxed);
        cell_->room_freed();
      }
    }};
  }

  void on_exit() override {
    cell_->died();
    // The cell holds this actor's handle: letting go of the cell here breaks
    // the cycle (handles that outlive the actor keep the cell, not us).
    cell_.reset();
  }

private:
  template <class F>
  void run_guarded(F&& f) {
    auto* saved = running_cell;
    running_cell = cell_.get();
    try {
      f();
    } catch (...) {
      method_failed(*cell_, nullptr, false);
    }
    running_cell = saved;
    if (cell_->stop_requested)
      quit(caf::exit_reason::normal);
  }

  std::shared_ptr<actor_cell> cell_;
};

void actor_cell::died() noexcept {
  if (kind->on_stop && obj) {
    auto* saved = running_cell;
    running_cell = this;
    try {
      kind->on_stop(obj);
    } catch (...) {
      log::error() << "actor " << address.name << ": on_stop() threw; ignored";
    }
    running_cell = saved;
  }
  if (obj)
    kind->destroy(obj);
  obj = nullptr;
  self = nullptr;
  std::vector<std::pair<std::uint64_t, down_fn>> fire;
  down_reason why;
  {
    std::lock_guard<std::mutex> lock(mtx);
    alive = false;
    if (more) {
      why = more->reason;
      fire.swap(more->watchers);
    }
  }
  room_freed(); // senders waiting for room see it gone
  {
    auto& t = table();
    std::lock_guard<std::mutex> lock(t.mtx);
    if (auto it = t.live.find(address.id); it != t.live.end() && it->second.get() == this)
      t.live.erase(it);
    if (t.live.empty())
      t.none_live.notify_all();
    t.graveyard[address.id] = why;
    t.graveyard_order.push_back(address.id);
    if (t.graveyard_order.size() > 4096) {
      t.graveyard.erase(t.graveyard_order.front());
      t.graveyard_order.pop_front();
    }
  }
  down d{address.name, address.pid, why};
  for (auto& [id, fn] : fire) {
    try {
      fn(d);
    } catch (...) {
      log::error() << "a monitor callback for actor " << address.name << " threw; ignored";
    }
  }
}

caf::actor_system& ensure_actor_runtime();
transport& ensure_handlers();

namespace {

// A supervised child in its own process is reached through a symbolic link
// its supervisor's node owns (connect() follows it): each new instance
// points it at its own socket, so handles made before a restart reach the
// instance that runs now.
void point_alias(const std::string& alias, const std::string& target) {
  auto tmp = alias + ".new" + std::to_string(self_pid());
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0 || ::rename(tmp.c_str(), alias.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw error(errc::system_error, "cannot point the supervised actor's address " + alias
                                      + " at " + target + ": " + std::strerror(e));
  }
}

} // namespace

std::shared_ptr<actor_ref> spawn_cell(const actor_kind& kind, void* obj, const std::string& name,
                                      const mailbox_options& mailbox, const cell_identity* who) {
  auto& sys = ensure_actor_runtime();
  auto& tr = transport::get();
  auto& t = table();
  auto a = std::make_shared<actor_address>();
  if (who && who->id) {
    a->id = who->id;
    a->restartable = true;
    auto next = t.next_id.load();
    while (next <= who->id && !t.next_id.compare_exchange_weak(next, who->id + 1)) {
    }
  } else {
    a->id = t.next_id++;
  }
  a->pid = self_pid();
  a->type = kind.type;
  {
    // One copy of the node's endpoint and parent for all its actors.
    std::lock_guard<std::mutex> lock(root_mtx);
    if (own_ep_of != &tr || own_ep_text != tr.endpoint()) {
      own_ep_text = tr.endpoint();
      own_ep_of = &tr;
    }
    if (parent_ep_text != parent_ep)
      parent_ep_text = parent_ep;
    a->endpoint = who && !who->endpoint.empty() ? shared_text(who->endpoint) : own_ep_text;
    a->parent = parent_ep_text;
  }
  if (who && !who->endpoint.empty() && who->endpoint != tr.endpoint())
    point_alias(who->endpoint, tr.endpoint());
  a->name = who && !who->name.empty() ? who->name : name.empty() ? next_name(kind) : name;
  a->mailbox = mailbox;
  auto c = std::make_shared<actor_cell>(std::move(a));
  c->kind = &kind;
  c->obj = obj;
  if (mailbox.bounded())
    c->bounded = std::make_unique<actor_cell::bound>(mailbox);
  if (who && !who->supervisor.empty())
    set_supervision(*c, who->supervisor, who->restarts);
  if (c->address.restartable) { // (only a restartable id can collide)
    std::lock_guard<std::mutex> lock(t.mtx);
    auto it = t.live.find(c->address.id);
    if (it != t.live.end() && it->second->alive) {
      kind.destroy(obj);
      throw error(errc::bad_argument, "actor " + c->address.name + ": id "
                                        + std::to_string(c->address.id) + " is taken by a live actor");
    }
  }
  // CAF's lazy_init leaves the actor unscheduled until its first message,
  // so the handle is stored before anything of it runs: on_start() may tell
  // itself or set timers, which read it. Without on_start() nothing needs to
  // run before the first message, and a spawn wakes no scheduler worker.
  c->handle = sys.spawn<cell_actor, caf::lazy_init>(c);
  if (kind.on_start) {
    struct start : envelope { // runs nothing: make_behavior() ran on_start()
      void run(void*, actor_cell&) override {}
      std::uint32_t weight() const noexcept override { return 0; } // not a user message
    };
    post_local(*c, std::make_shared<start>(), false);
  }
  {
    // Found by id only once its CAF actor exists (a supervised child's id
    // is known before it starts). One that stopped already is not added:
    // died() clears `alive` before it takes this lock.
    std::lock_guard<std::mutex> lock(t.mtx);
    if (c->alive)
      t.live[c->address.id] = c;
  }
  auto r = std::make_shared<actor_ref>(c->shared);
  r->local = c;
  return r;
}

std::size_t live_actor_count() {
  auto& t = table();
  std::lock_guard<std::mutex> lock(t.mtx);
  return t.live.size();
}

std::uint64_t reserve_actor_id() {
  return table().next_id++;
}

std::string next_name(const actor_kind& kind) {
  // "counter-3": numbered per class, without a lock (spawns are hot).
  char digits[24];
  auto n = kind.spawned.fetch_add(1, std::memory_order_relaxed) + 1;
  auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  std::string name;
  name.reserve(kind.pretty.size() + 1 + static_cast<std::size_t>(end - digits));
  name.append(kind.pretty).push_back('-');
  name.append(digits, end);
  return name;
}

std::string name_base(const char* mangled) {
  auto full = demangle(mangled);
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i + 1 < full.size(); ++i) {
    char ch = full[i];
    depth += (ch == '<' || ch == '(') - (ch == '>' || ch == ')');
    if (depth == 0 && ch == ':' && full[i + 1] == ':')
      start = i + 2;
  }
  return full.substr(start);
}

std::shared_ptr<actor_ref> cell_ref(actor_cell& c) {
  auto r = std::make_shared<actor_ref>(c.shared);
  r->local = c.shared_from_this();
  return r;
}

const std::string& cell_name(actor_cell& c) noexcept {
  return c.address.name;
}

const char* cell_type(actor_cell& c) noexcept {
  return c.kind->type;
}

void cell_stop(actor_cell& c) noexcept {
  c.stop_requested = true;
}

void cell_trap_exit(actor_cell& c, down_fn fn) {
  std::lock_guard<std::mutex> lock(c.mtx);
  c.more_locked().trap = std::move(fn);
}

actor_cell* current_cell() noexcept {
  return running_cell;
}

void throw_not_in_actor(const char* what) {
  throw error(errc::bad_argument, std::string(what)
                                    + " is only available inside an actor's method (or its "
                                      "on_start/on_stop)");
}

actor_cell& require_cell(const char* what) {
  if (!running_cell)
    throw_not_in_actor(what);
  return *running_cell;
}

void throw_empty_handle() {
  throw error(errc::bad_argument, "an empty actors::actor handle: assign it from spawn(), "
                                  "lookup() or a handle that arrived in a message");
}

actor_cell* live_local(actor_ref& ref) {
  auto& c = ref.local;
  if (c && c->alive.load())
    return c.get();
  if (!ref.address.restartable)
    return nullptr; // remote, or gone: later calls report its death
  // A supervised child of this node: its current instance has the same id.
  auto& a = ref.address;
  if (a.pid != self_pid())
    return nullptr;
  auto* tr = transport::running_fast();
  if (!tr || tr->endpoint() != a.endpoint)
    return nullptr;
  thread_local std::shared_ptr<actor_cell> pinned; // alive while the caller posts to it
  pinned = find_live(a.id);
  return pinned && pinned->alive.load() ? pinned.get() : nullptr;
}

void post_local(actor_cell& cell, envelope_ptr env, bool entered) {
  // From a loop thread the actor runs right there, after the current batch;
  // from anywhere else a scheduler worker runs it.
  auto* loop = event_loop::current();
  auto* a = caf::actor_cast<caf::abstract_actor*>(cell.handle);
  if (!a)
    return;
  if (entered) { // enter_mailbox() counted it
    env->counted = 1;
  } else {
    env->counted = env->weight();
    cell.queued.fetch_add(env->counted, std::memory_order_relaxed);
  }
  a->enqueue(nullptr, caf::make_message_id(), caf::make_message(std::move(env)), loop);
}

// -- bounded mailboxes ---------------------------------------------------------------

namespace {

// Waits on `cv` until `pred` holds or `timeout` passes; false on timeout.
template <class Pred>
bool wait_for_room(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                   duration timeout, Pred pred) {
  if (timeout >= std::chrono::hours(24 * 365)) { // forever, or as good as
    cv.wait(lock, pred);
    return true;
  }
  return cv.wait_for(lock, timeout, pred);
}

std::string mailbox_full_text(const actor_address& a, refusal why) {
  auto& o = a.mailbox;
  std::string head = "the mailbox of actor " + a.name + " (pid " + std::to_string(a.pid)
                     + ") is full (capacity " + std::to_string(o.capacity) + ")";
  switch (why) {
    case refusal::timed_out:
      return head + " and no room came within its timeout of "
             + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout).count())
             + " ms: the actor is slower than its senders; nothing was sent. Give it more time "
               "(mailbox_options::timeout), a larger capacity, or fewer senders";
    case refusal::cannot_wait:
      return head + " and this thread may not wait for room (a tell to the actor itself, or a "
                    "libactors loop thread that runs actors or delivers the room to wait for); "
                    "nothing was sent. Send from another thread, or use try_tell() and retry";
    case refusal::full:
    case refusal::none:
      break;
  }
  return head + (o.when_full == on_full::fail ? " and fails when full (on_full::fail)" : "")
         + "; nothing was sent. Retry later, or spawn it with on_full::block to wait for room";
}

} // namespace

std::exception_ptr mailbox_full_error(const actor_address& a, refusal why) {
  return std::make_exception_ptr(queue_full(mailbox_full_text(a, why)));
}

void throw_mailbox_full(const actor_address& a, refusal why) {
  throw queue_full(mailbox_full_text(a, why));
}

refusal enter_mailbox(actor_cell& cell, bool nowait) {
  auto* b = cell.bounded.get();
  if (!b) {
    cell.queued.fetch_add(1, std::memory_order_relaxed);
    return refusal::none;
  }
  auto capacity = b->options.capacity;
  auto take = [&] {
    auto q = cell.queued.load();
    while (q < capacity)
      if (cell.queued.compare_exchange_weak(q, q + 1))
        return true;
    return false;
  };
  if (take())
    return refusal::none;
  if (nowait || b->options.when_full == on_full::fail)
    return refusal::full;
  // The actor itself, and a loop thread (which may be the one that runs
  // the actor), would wait for themselves.
  if (running_cell == &cell || event_loop::current())
    return refusal::cannot_wait;
  std::unique_lock<std::mutex> lock(b->mtx);
  ++b->waiters;
  bool room = wait_for_room(b->room, lock, b->options.timeout,
                            [&] { return !cell.alive.load() || take(); });
  --b->waiters;
  // An actor that died meanwhile: the post reports its death as usual.
  return room ? refusal::none : refusal::timed_out;
}

std::shared_ptr<actor_ref> ref_for(actor_address a) {
  if (a.pid == self_pid()) {
    auto* tr = transport::running();
    if (tr && tr->endpoint() == a.endpoint) {
      std::shared_ptr<actor_cell> c;
      {
        auto& t = table();
        std::lock_guard<std::mutex> lock(t.mtx);
        auto it = t.live.find(a.id);
        if (it != t.live.end())
          c = it->second;
      }
      if (c) {
        auto r = std::make_shared<actor_ref>(c->shared);
        r->local = std::move(c);
        return r;
      }
      // ours and gone: keep `local` empty but remember it was ours
    }
  }
  return std::make_shared<actor_ref>(std::move(a));
}

down_reason reason_of_local(std::uint64_t id) {
  auto& t = table();
  std::lock_guard<std::mutex> lock(t.mtx);
  auto it = t.graveyard.find(id);
  if (it != t.graveyard.end())
    return it->second;
  return down_reason{down_reason::kind::no_such_actor, 0, 0, {}};
}

down_reason abandoned_reason(actor_cell& cell) {
  std::lock_guard<std::mutex> lock(cell.mtx);
  auto r = cell.reason_locked();
  if (r.what == down_reason::kind::normal && r.message.empty())
    r.message = "before it ran this message";
  return r;
}

void fail_abandoned(task_state& reply, actor_cell& cell) noexcept {
  try {
    reply.fail(0, std::make_exception_ptr(actor_died(cell.address.name, abandoned_reason(cell))));
  } catch (...) {
  }
}

std::exception_ptr method_failed(actor_cell& cell, const raw_method* method, bool asked) {
  auto [type, what] = current_exception_info();
  std::string m = method ? method_name(*method) : std::string("a continuation");
  if (asked)
    return std::make_exception_ptr(remote_error(
      type, what, cell.address.pid, "actor " + cell.address.name + ", method " + m));
  // Nobody asked, so nobody would hear of it: the actor stops (its
  // monitors and links do hear).
  log::error() << "actor " << cell.address.name << ": " << m << " raised " << type
               << (what.empty() ? "" : ": " + what) << "; the actor stops";
  {
    std::lock_guard<std::mutex> lock(cell.mtx);
    cell.more_locked().reason = {down_reason::kind::exception, 0, 0, type + (what.empty() ? "" : ": " + what)};
  }
  cell.stop_requested = true;
  return nullptr;
}

std::string type_name(const char* mangled) {
  return demangle(mangled);
}

// -- methods across processes ---------------------------------------------------------

method_code encode_method(raw_method r) {
  method_code c;
  c.adjust = r.adj;
  if (r.ptr & 1) { // Itanium ABI: a virtual method is 1 + its vtable offset
    c.is_virtual = true;
    c.vtable = r.ptr;
  } else {
    c.where = locate(reinterpret_cast<any_fn>(r.ptr));
  }
  return c;
}

bool decode_method(const method_code& c, raw_method& out) noexcept {
  out.adj = static_cast<std::ptrdiff_t>(c.adjust);
  if (c.is_virtual) {
    out.ptr = static_cast<std::uintptr_t>(c.vtable);
    return true;
  }
  auto fn = resolve(c.where);
  out.ptr = reinterpret_cast<std::uintptr_t>(fn);
  return fn != nullptr;
}

std::string method_name(raw_method r) {
  if (r.ptr & 1)
    return "virtual method at vtable offset " + std::to_string(r.ptr - 1);
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(r.ptr), &info) && info.dli_sname)
    return demangle(info.dli_sname);
  try {
    auto where = locate(reinterpret_cast<any_fn>(r.ptr));
    auto sym = symbol_at(where);
    if (!sym.empty())
      return demangle(sym.c_str());
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(where.offset));
    return "method at " + (where.module.empty() ? std::string("the program") : where.module)
           + "+0x" + hex;
  } catch (...) {
    return "a method";
  }
}

std::string call_header(const code_location& runner, const method_code& method) {
  return encode(std::make_tuple(runner, method));
}

// -- remote state per connection --------------------------------------------------------

namespace {

struct pending_ask {
  std::shared_ptr<task_state> state;
  std::string actor;
  std::string parent; // who can tell why it ended
};

struct remote_watch {
  down_fn fn;
  actor_address who;
};

// Removes and returns the entry for `key`, under `mtx`; nullopt if absent.
template <class Map>
std::optional<typename Map::mapped_type> take_entry(std::mutex& mtx, Map& m,
                                                    const typename Map::key_type& key) {
  std::lock_guard<std::mutex> lock(mtx);
  auto it = m.find(key);
  if (it == m.end())
    return std::nullopt;
  auto v = std::move(it->second);
  m.erase(it);
  return v;
}

// What this node may still send to one bounded actor over one connection:
// its capacity minus the counted calls not yet answered with op_room.
struct mailbox_window {
  std::uint32_t in_flight = 0;
};

struct peer_actors {
  std::mutex mtx;
  std::unordered_map<std::uint64_t, pending_ask> pending;
  std::atomic<int> pending_count{0}; // pending.size(), read without the lock
  std::unordered_map<std::uint64_t, remote_watch> watches;
  std::unordered_map<std::uint64_t, mailbox_window> windows; // by actor id
  std::condition_variable room; // an op_room arrived, or the connection closed
  int room_waiters = 0;
  std::optional<down_reason> forced; // why the watchdog closed it
  std::chrono::steady_clock::time_point stopped_since{};
};

// How often the watchdog looks at the processes this node waits on, and
// how long one may stay stopped (SIGSTOP, a debugger) before its actors
// count as down. See actors::set_heartbeat.
std::atomic<long> watch_every_ms{250};
std::atomic<long> stopped_limit_ms{1500};

std::atomic<std::uint64_t> next_request{1};
std::atomic<std::uint64_t> next_watch{1};

peer_actors& state_of(const peer_ptr& p) {
  if (auto* ready = p->service_state_ready.load(std::memory_order_acquire))
    return *static_cast<peer_actors*>(ready);
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (!p->service_state)
    p->service_state = std::make_shared<peer_actors>();
  p->service_state_ready.store(p->service_state.get(), std::memory_order_release);
  return *static_cast<peer_actors*>(p->service_state.get());
}

struct wire_error {
  int code = 0;
  std::string type, message, actor, task;
  int pid = 0;
  down_reason reason;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(code, type, message, actor, task, pid, reason);
  }
};

wire_error to_wire(std::exception_ptr e) {
  wire_error w;
  try {
    std::rethrow_exception(e);
  } catch (const actor_died& x) {
    w.code = static_cast<int>(errc::actor_died);
    w.actor = x.actor();
    w.reason = x.reason();
  } catch (const remote_error& x) {
    w.code = static_cast<int>(errc::remote_error);
    w.type = x.type_name();
    w.message = x.message();
    w.pid = x.pid();
    w.task = x.task();
  } catch (const error& x) {
    w.code = static_cast<int>(x.value());
    w.message = x.what();
  } catch (...) {
    auto [type, what] = current_exception_info();
    w.code = static_cast<int>(errc::remote_error);
    w.type = type;
    w.message = what;
    w.pid = self_pid();
  }
  return w;
}

std::exception_ptr from_wire(const wire_error& w) {
  auto code = static_cast<errc>(w.code);
  if (code == errc::actor_died)
    return std::make_exception_ptr(actor_died(w.actor, w.reason));
  if (code == errc::remote_error)
    return std::make_exception_ptr(remote_error(w.type, w.message, w.pid, w.task));
  return std::make_exception_ptr(error(code, w.message));
}

std::string reply_payload(std::uint64_t req, bool ok, const std::string& body) {
  std::string out;
  out.reserve(10 + body.size());
  out.push_back(static_cast<char>(op_reply));
  put(out, req);
  out.push_back(ok ? 0 : 1);
  out += body;
  return out;
}

// Answers a request that came from another process.
class peer_route final : public reply_route {
public:
  peer_route(peer_ptr p, std::uint64_t req) : p_(std::move(p)), req_(req) {}
  void ok_encoded(std::string bytes) override { send(true, bytes); }
  void failed(std::exception_ptr e) override { send(false, encode(to_wire(e))); }

private:
  void send(bool ok, const std::string& body) {
    if (req_ == 0)
      return;
    try {
      transport::get().send(p_, reply_payload(req_, ok, body), true);
    } catch (const error& e) {
      // Over the frame cap: the asker still hears why.
      if (ok)
        failed(std::current_exception());
      else
        log::error() << "actor transport: a reply could not be sent: " << e.what();
    }
  }
  peer_ptr p_;
  std::uint64_t req_;
};

// The inbound loop's cache of call headers it has resolved.
struct resolved_call {
  remote_runner runner = nullptr;
  raw_method method{0, 0};
  bool ok = false;
};

// Why the process `pid` is gone. A child of ours: its exit status says.
down_reason reason_for_pid(int pid) {
  if (auto* n = current_node()) {
    std::shared_ptr<process_state> child;
    std::optional<int> recent;
    {
      std::lock_guard<std::recursive_mutex> guard(n->mtx);
      for (auto& k : n->children)
        if (k->pid == pid)
          child = k;
      for (auto& [p, code] : n->recent_exits) // reaped already by a later start
        if (p == pid)
          recent = code;
    }
    if (!child && recent) {
      if (*recent < 0)
        return {down_reason::kind::signal, -*recent, 0, {}};
      return {down_reason::kind::exited, 0, *recent, {}};
    }
    if (child) {
      try {
        process pr(child);
        if (pr.join(std::chrono::milliseconds(500))) {
          int code = *pr.exitcode();
          if (code < 0)
            return {down_reason::kind::signal, -code, 0, {}};
          return {down_reason::kind::exited, 0, code, {}};
        }
      } catch (...) {
      }
    }
  }
  return {down_reason::kind::unreachable, 0, 0,
          "the node of pid " + std::to_string(pid) + " closed its connection"};
}

down_reason reason_for_peer(const peer_ptr& p) {
  return reason_for_pid(p->pid());
}

// Asks the parent node at `parent` why its child `pid` ended; `then` runs
// with the answer (or `fallback` when the parent cannot tell), on a loop
// thread or at once. Never blocks.
void ask_parent_why(const std::string& parent, int pid, down_reason fallback,
                    std::function<void(const down_reason&)> then);

void fail_peer(const peer_ptr& p) {
  if (p->endpoint().empty()) { // a connection a child of ours may have opened
    auto& c = *children_ptr();
    std::lock_guard<std::mutex> lock(c.mtx);
    c.by_pid.erase(p->pid());
  }
  auto& st = state_of(p);
  {
    // Senders waiting for room see the connection closed (their send then
    // reports the actor's death).
    std::lock_guard<std::mutex> lock(st.mtx);
    if (st.room_waiters)
      st.room.notify_all();
  }
  std::unordered_map<std::uint64_t, pending_ask> pending;
  std::unordered_map<std::uint64_t, remote_watch> watches;
  {
    std::lock_guard<std::mutex> lock(st.mtx);
    pending.swap(st.pending);
    st.pending_count = 0;
    watches.swap(st.watches);
  }
  if (pending.empty() && watches.empty())
    return;
  std::string parent; // who can tell why it ended
  for (auto& [id, a] : pending)
    parent = a.parent;
  for (auto& [id, w] : watches)
    parent = w.who.parent;
  auto report = [pending = std::move(pending), watches = std::move(watches)](const down_reason& why) {
    for (auto& [id, a] : pending)
      a.state->fail(0, std::make_exception_ptr(actor_died(a.actor, why)));
    for (auto& [id, w] : watches) {
      try {
        w.fn(down{w.who.name, w.who.pid, why});
      } catch (...) {
        log::error() << "a monitor callback for actor " << w.who.name << " threw; ignored";
      }
    }
  };
  std::optional<down_reason> forced;
  {
    std::lock_guard<std::mutex> lock(st.mtx);
    forced = st.forced;
  }
  auto why = forced ? *forced : reason_for_peer(p);
  auto* tr = transport::running();
  if (why.what != down_reason::kind::unreachable || parent.empty() || !tr
      || parent == tr->endpoint()) {
    report(why);
    return;
  }
  // Not our child: its parent node read its exit status.
  ask_parent_why(parent, p->pid(), why, std::move(report));
}

void deliver_reply(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 9)
    return;
  auto req = take<std::uint64_t>(data);
  bool ok = *data++ == 0;
  size -= 9;
  auto& st = state_of(p);
  auto found = take_entry(st.mtx, st.pending, req);
  if (!found)
    return;
  st.pending_count.fetch_sub(1, std::memory_order_relaxed);
  auto& a = *found;
  if (ok) {
    try {
      a.state->deliver(0, data, size);
    } catch (...) {
      a.state->fail(0, std::current_exception());
    }
    return;
  }
  try {
    a.state->fail(0, from_wire(decode<wire_error>(data, size)));
  } catch (...) {
    a.state->fail(0, std::current_exception());
  }
}

// Tells the sender on `p` that `n` of its counted calls to actor `id` left
// the mailbox. Not urgent: it rides with the replies of the same batch.
void send_room(const peer_ptr& p, std::uint64_t id, std::uint32_t n) noexcept {
  if (n == 0 || p->closed())
    return;
  auto* tr = transport::running_fast();
  if (!tr)
    return;
  std::string out(1, static_cast<char>(op_room));
  put(out, id);
  put(out, n);
  try {
    tr->send(p, out, false);
  } catch (...) {
  }
}

// A sender's op_room: that much more may go to the actor.
void on_room(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 12)
    return;
  auto id = take<std::uint64_t>(data);
  auto n = take<std::uint32_t>(data);
  auto& st = state_of(p);
  std::lock_guard<std::mutex> lock(st.mtx);
  auto it = st.windows.find(id);
  if (it == st.windows.end())
    return;
  it->second.in_flight -= std::min(n, it->second.in_flight);
  if (st.room_waiters)
    st.room.notify_all();
  else if (it->second.in_flight == 0) // nobody holds it: a window per actor ever told would add up
    st.windows.erase(it);
}

// Takes a place in this node's window to the bounded actor `a` on the
// connection `p`, waiting for room as its options say.
refusal enter_window(const peer_ptr& p, peer_actors& st, const actor_address& a, bool nowait) {
  auto& o = a.mailbox;
  // op_room arrives on the outbound loop: waiting there would never end.
  bool may_wait = !nowait && o.when_full == on_full::block
                  && !(transport::running_fast() && transport::running_fast()->on_outbound_loop());
  std::unique_lock<std::mutex> lock(st.mtx);
  auto& w = st.windows[a.id];
  if (w.in_flight < o.capacity) {
    ++w.in_flight;
    return refusal::none;
  }
  if (nowait || o.when_full == on_full::fail)
    return refusal::full;
  if (!may_wait)
    return refusal::cannot_wait;
  ++st.room_waiters;
  bool room = wait_for_room(st.room, lock, o.timeout,
                            [&] { return p->closed() || w.in_flight < o.capacity; });
  --st.room_waiters;
  if (!room)
    return refusal::timed_out;
  if (!p->closed())
    ++w.in_flight;
  return refusal::none;
}

// A run of calls that arrived together from one connection for one actor,
// posted as one mailbox message (a flood of tells costs one CAF message
// per read, not per tell). The calls run in order; if one stops the actor,
// the asks after it fail with actor_died.
class call_batch final : public envelope {
public:
  struct item {
    const resolved_call* call;
    std::uint64_t req;
    std::string args;
    bool counted; // to a bounded mailbox: the sender waits for its op_room
  };
  call_batch(peer_ptr p, std::shared_ptr<actor_cell> target)
    : p_(std::move(p)), target_(std::move(target)) {}
  ~call_batch() override {
    for (auto i = next_; i < items.size(); ++i) {
      unacked_ += items[i].counted;
      if (items[i].req)
        peer_route(p_, items[i].req)
          .failed(std::make_exception_ptr(actor_died(target_->address.name, abandoned_reason(*target_))));
    }
    give_room();
  }

  void run(void* obj, actor_cell& cell) override {
    // Room goes back to the sender as calls run, a quarter of the capacity
    // at a time, so a long batch does not leave it waiting until the end.
    std::uint32_t every = 64;
    if (auto* b = cell.bounded.get())
      every = std::max<std::uint32_t>(1, b->options.capacity / 4);
    while (next_ < items.size() && !cell.stop_requested) {
      auto& it = items[next_++];
      run_one(obj, cell, it);
      if (it.counted && ++unacked_ >= every)
        give_room();
      if (counted > 0) { // one by one: a long batch's depth goes down as it runs
        --counted;
        cell.queued.fetch_sub(1, std::memory_order_relaxed);
        cell.handled.fetch_add(1, std::memory_order_relaxed);
      }
    }
    give_room();
  }

  std::vector<item> items;
  std::uint32_t weight() const noexcept override { return static_cast<std::uint32_t>(items.size()); }
  const std::shared_ptr<actor_cell>& target() const noexcept { return target_; }
  const peer_ptr& from() const noexcept { return p_; }

private:
  void run_one(void* obj, actor_cell& cell, item& it) {
    std::shared_ptr<reply_route> route;
    if (it.req)
      route = std::make_shared<peer_route>(p_, it.req);
    std::string result;
    bool deferred = false;
    try {
      result = it.call->runner(obj, it.call->method, it.args.data(), it.args.size(), route, deferred);
    } catch (const error& e) {
      if (e.value() == errc::bad_payload) {
        log_bad_payload(cell, e.what());
        if (route)
          route->failed(std::current_exception());
        return;
      }
      fail(cell, it, route);
      return;
    } catch (...) {
      fail(cell, it, route);
      return;
    }
    if (route && !deferred)
      route->ok_encoded(std::move(result));
  }
  void fail(actor_cell& cell, item& it, const std::shared_ptr<reply_route>& route) {
    auto e = method_failed(cell, &it.call->method, route != nullptr);
    if (route)
      route->failed(e);
  }
  static void log_bad_payload(actor_cell& cell, const char* what) {
    static std::atomic<bool> once{false};
    if (!once.exchange(true))
      log::error() << "actor " << cell.address.name << ": a message did not decode and was "
                   << "dropped (further ones are not logged): " << what;
  }
  void give_room() noexcept {
    send_room(p_, target_->address.id, unacked_);
    unacked_ = 0;
  }
  peer_ptr p_;
  std::shared_ptr<actor_cell> target_;
  std::size_t next_ = 0;
  std::uint32_t unacked_ = 0; // counted calls run (or dropped) since the last op_room
};

// The batch being filled by this loop thread, posted when the read that
// filled it is handled (or a call for another actor arrives).
thread_local std::shared_ptr<call_batch> open_batch;

void post_open_batch() {
  if (!open_batch)
    return;
  auto b = std::move(open_batch);
  open_batch.reset();
  auto target = b->target();
  post_local(*target, std::move(b));
}

// Call headers this loop has resolved, found without allocating.
const resolved_call& resolve_header(const char* data, std::size_t n) {
  thread_local std::deque<std::string> keys;
  thread_local std::unordered_map<std::string_view, resolved_call> cache;
  auto it = cache.find(std::string_view(data, n));
  if (it != cache.end())
    return it->second;
  resolved_call r;
  try {
    auto [runner, method] = decode<std::tuple<code_location, method_code>>(data, n);
    r.runner = reinterpret_cast<remote_runner>(resolve(runner));
    r.ok = r.runner && decode_method(method, r.method);
  } catch (...) {
  }
  keys.emplace_back(data, n);
  return cache.emplace(std::string_view(keys.back()), r).first->second;
}

void on_call(const peer_ptr& p, const char* data, std::size_t size, bool counted) {
  if (size < 18)
    return;
  auto id = take<std::uint64_t>(data);
  auto req = take<std::uint64_t>(data);
  auto hlen = take<std::uint16_t>(data);
  size -= 18;
  if (size < hlen)
    return;
  const char* header = data;
  data += hlen;
  size -= hlen;
  std::shared_ptr<actor_cell> cell;
  if (open_batch && open_batch->target()->address.id == id && open_batch->from() == p) {
    cell = open_batch->target();
  } else {
    post_open_batch();
    cell = find_live(id);
  }
  if (!cell || !cell->alive.load()) {
    if (counted)
      send_room(p, id, 1);
    if (req)
      peer_route(p, req).failed(std::make_exception_ptr(actor_died(
        "#" + std::to_string(id) + " of pid " + std::to_string(self_pid()), reason_of_local(id))));
    else
      dropped_count()++;
    return;
  }
  auto& call = resolve_header(header, hlen);
  if (!call.ok) {
    if (counted)
      send_room(p, id, 1);
    if (req)
      peer_route(p, req).failed(std::make_exception_ptr(
        error(errc::target_not_found, "actor " + cell->address.name
                                        + ": the method is not in this process's image (a "
                                          "library loaded after the node started?)")));
    return;
  }
  if (!open_batch)
    open_batch = std::make_shared<call_batch>(p, cell);
  open_batch->items.push_back({&call, req, std::string(data, size), counted});
}

void on_down(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 8)
    return;
  auto id = take<std::uint64_t>(data);
  auto& st = state_of(p);
  auto found = take_entry(st.mtx, st.watches, id);
  if (!found)
    return;
  auto& w = *found;
  down_reason why;
  try {
    why = decode<down_reason>(data, size - 8);
  } catch (...) {
    why = {down_reason::kind::unreachable, 0, 0, "a down notice did not decode"};
  }
  w.fn(down{w.who.name, w.who.pid, why});
}

std::uint64_t watch_local(const std::shared_ptr<actor_cell>& c, std::uint64_t id, down_fn fn);

void on_monitor(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 16)
    return;
  auto actor = take<std::uint64_t>(data);
  auto id = take<std::uint64_t>(data);
  std::weak_ptr<peer> weak = p;
  auto notify = [weak, id](const down& d) {
    if (auto peer = weak.lock()) {
      std::string out(1, static_cast<char>(op_down));
      put(out, id);
      out += encode(d.reason);
      try {
        transport::get().send(peer, out, true);
      } catch (...) {
      }
    }
  };
  auto cell = find_live(actor);
  if (!cell) {
    down d;
    d.reason = reason_of_local(actor);
    notify(d);
    return;
  }
  watch_local(cell, id, notify);
}

void exit_signal(const std::shared_ptr<actor_cell>& target, const down& d);

void on_link(const peer_ptr&, const char* data, std::size_t size) {
  if (size < 8)
    return;
  auto actor = take<std::uint64_t>(data);
  try {
    auto other = decode<actor_address>(data, size - 8);
    auto target = find_live(actor);
    auto other_ref = ref_for(other);
    if (!target) {
      return;
    }
    std::weak_ptr<actor_cell> weak = target;
    watch(*other_ref, [weak](const down& d) {
      if (auto t = weak.lock())
        exit_signal(t, d);
    }, nullptr);
  } catch (const std::exception& e) {
    log::error() << "actor transport: a link request failed: " << e.what();
  }
}

void on_spawn(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 12)
    return;
  auto req = take<std::uint64_t>(data);
  auto n = take<std::uint32_t>(data);
  size -= 12;
  auto route = std::make_shared<peer_route>(p, req);
  try {
    if (size < n)
      throw error(errc::bad_payload, "a spawn request was truncated");
    auto where = decode<code_location>(data, n);
    auto fn = reinterpret_cast<remote_spawner>(resolve(where));
    if (!fn)
      throw error(errc::target_not_found, "the actor's class is not in this process's image");
    auto ref = fn(data + n, size - n);
    route->ok_encoded(encode(ref->address));
  } catch (const error&) {
    route->failed(std::current_exception());
  } catch (...) {
    auto [type, what] = current_exception_info();
    route->failed(std::make_exception_ptr(
      remote_error(type, what, self_pid(), "the constructor of a spawned actor")));
  }
}

void on_registry(const peer_ptr& p, const char* data, std::size_t size);

// Runs on the actor: a normal stop after the messages before it.
class stop_envelope final : public envelope {
public:
  void run(void*, actor_cell& cell) override { cell.stop_requested = true; }
  std::uint32_t weight() const noexcept override { return 0; }
};

void on_stop_request(const peer_ptr&, const char* data, std::size_t size) {
  if (size < 8)
    return;
  post_open_batch(); // after the calls that arrived before it
  if (auto c = find_live(take<std::uint64_t>(data)))
    post_local(*c, std::make_shared<stop_envelope>());
}

// A child that hosts actors says where (its pid is the connection's, checked
// by the kernel, not what it claims).
void on_hello(const peer_ptr& p, const char* data, std::size_t size) {
  auto& c = *children_ptr();
  {
    std::lock_guard<std::mutex> lock(c.mtx);
    c.by_pid[p->pid()] = std::string(data, size);
  }
  c.known.notify_all();
}

void on_why(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 12)
    return;
  auto req = take<std::uint64_t>(data);
  auto pid = take<std::int32_t>(data);
  auto route = std::make_shared<peer_route>(p, req);
  route->ok_encoded(encode(reason_for_pid(pid)));
}

void ask_parent_why(const std::string& parent, int pid, down_reason fallback,
                    std::function<void(const down_reason&)> then) {
  auto st = std::make_shared<result_state<down_reason>>();
  auto done = std::make_shared<std::atomic<bool>>(false);
  auto finish = [st, then, fallback, done] {
    if (done->exchange(true))
      return;
    if (st->current() == task_state::status::succeeded) {
      auto r = st->value();
      if (r.what != down_reason::kind::unreachable) {
        then(r);
        return;
      }
    }
    then(fallback);
  };
  try {
    auto& tr = ensure_handlers();
    auto p = tr.connect(parent);
    auto req = next_request++;
    {
      auto& ps = state_of(p);
      std::lock_guard<std::mutex> lock(ps.mtx);
      ps.pending[req] = {st, "the parent node", {}};
      ps.pending_count.fetch_add(1, std::memory_order_relaxed);
    }
    st->on_done(finish);
    std::string out(1, static_cast<char>(op_why));
    put(out, req);
    put(out, static_cast<std::int32_t>(pid));
    tr.send(p, out, true);
  } catch (...) {
    finish();
  }
}

} // namespace

// -- the runtime's start ------------------------------------------------------------------

std::atomic<transport*> runtime_ready{nullptr}; // the transport the handlers are on
std::atomic<caf::actor_system*> runtime_system{nullptr}; // the node's, once runtime_ready

// The scheduling state of `pid` from /proc ('T' stopped, 't' traced...),
// or 0 when it cannot be read (the process is gone).
char proc_state(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  char buf[512];
  auto n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0)
    return 0;
  buf[n] = 0;
  const char* close_paren = std::strrchr(buf, ')');
  return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

// On the outbound loop: a process this node waits on (asks pending, or
// monitors) that stays stopped longer than the limit is down for us. A
// process that died is seen at once by EOF; this covers one that is frozen
// and so never closes its sockets.
void watchdog() {
  auto* tr = transport::running();
  if (!tr)
    return;
  auto now = std::chrono::steady_clock::now();
  auto limit = std::chrono::milliseconds(stopped_limit_ms.load());
  for (auto& p : tr->dialled()) {
    if (!p->service_state_ready.load(std::memory_order_acquire))
      continue;
    auto& st = state_of(p);
    bool close = false;
    {
      std::lock_guard<std::mutex> lock(st.mtx);
      if (st.pending.empty() && st.watches.empty()) {
        st.stopped_since = {};
        continue;
      }
      char state = proc_state(p->pid());
      if (state != 'T' && state != 't') {
        st.stopped_since = {};
        continue;
      }
      if (st.stopped_since == std::chrono::steady_clock::time_point{}) {
        st.stopped_since = now;
        continue;
      }
      if (now - st.stopped_since >= limit) {
        st.forced = down_reason{down_reason::kind::unreachable, 0, 0,
                                "pid " + std::to_string(p->pid()) + " has been stopped (SIGSTOP?) for "
                                  + std::to_string(stopped_limit_ms.load()) + " ms"};
        close = true;
      }
    }
    if (close)
      tr->close(p);
  }
}

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

namespace {
std::atomic<bool> control_endpoint_deferred{false};
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

refusal send_remote(actor_ref& ref, const std::string& header, args_writer write,
                    const void* args, std::shared_ptr<task_state> reply, bool nowait) {
  auto& a = ref.address;
  if (a.pid == self_pid()) {
    auto* tr = transport::running_fast();
    if (ref.local || (tr && tr->endpoint() == a.endpoint)) { // ours, and gone
      report_dead(ref, reply.get());
      return refusal::none;
    }
  }
  ensure_handlers();
  peer_ptr p = std::static_pointer_cast<peer>(std::atomic_load(&ref.conn));
  try {
    if (!p || p->closed()) {
      p = transport::get().connect(a.endpoint);
      std::atomic_store(&ref.conn, std::static_pointer_cast<void>(p));
    }
  } catch (const error&) {
    if (!reply) {
      dropped_count()++;
      return refusal::none;
    }
    auto why = reason_for_pid(a.pid);
    auto name = a.name;
    if (why.what == down_reason::kind::unreachable && !a.parent.empty())
      ask_parent_why(a.parent, a.pid, why, [reply, name](const down_reason& r) {
        reply->fail(0, std::make_exception_ptr(actor_died(name, r)));
      });
    else
      reply->fail(0, std::make_exception_ptr(actor_died(name, why)));
    return refusal::none;
  }
  auto& st = state_of(p);
  // A bounded mailbox: at most `capacity` calls from this node are in it
  // or on their way; the receiver gives room back as they run (op_room).
  bool counted = a.mailbox.bounded();
  if (counted) {
    if (auto why = enter_window(p, st, a, nowait); why != refusal::none) {
      if (reply)
        reply->fail(0, mailbox_full_error(a, why));
      return why;
    }
  }
  // The frame is built in a buffer this thread keeps, arguments encoded in
  // place: one copy on the way to the socket.
  thread_local std::string out;
  out.clear();
  out.push_back(static_cast<char>(counted ? op_counted_call : op_call));
  put(out, a.id);
  std::size_t req_at = out.size();
  put(out, std::uint64_t(0));
  put(out, static_cast<std::uint16_t>(header.size()));
  out += header;
  write(out, args);
  std::uint64_t req = 0;
  // An ask is written at once when it is the only one waiting on this
  // connection (its round trip is what the caller waits for). Behind others
  // it joins the buffer the loop writes within microseconds, so a burst of
  // asks costs one system call, not one each.
  bool urgent = false;
  if (reply) {
    req = next_request++;
    std::memcpy(&out[req_at], &req, sizeof req);
    std::lock_guard<std::mutex> lock(st.mtx);
    st.pending[req] = {reply, a.name, a.parent};
    urgent = st.pending.size() == 1;
    st.pending_count.fetch_add(1, std::memory_order_relaxed);
  }
  bool sent = false;
  try {
    sent = transport::get().send(p, out, urgent);
  } catch (...) { // over the frame cap: nothing was sent
    std::lock_guard<std::mutex> lock(st.mtx);
    if (reply && st.pending.erase(req))
      st.pending_count.fetch_sub(1, std::memory_order_relaxed);
    if (counted)
      --st.windows[a.id].in_flight;
    throw;
  }
  if (!sent || p->closed()) {
    // The connection closed; its close handler may have run before we
    // registered, so fail what is still ours.
    if (reply) {
      if (take_entry(st.mtx, st.pending, req)) {
        st.pending_count.fetch_sub(1, std::memory_order_relaxed);
        reply->fail(0, std::make_exception_ptr(actor_died(a.name, reason_for_peer(p))));
      }
    } else {
      dropped_count()++;
    }
  }
  return refusal::none;
}

int asks_in_flight(actor_ref& ref) noexcept {
  if (auto* c = live_local(ref))
    return static_cast<int>(c->queued.load(std::memory_order_relaxed));
  auto p = std::static_pointer_cast<peer>(std::atomic_load(&ref.conn));
  if (!p)
    return 0;
  if (p->closed())
    return -1;
  return std::max(0, state_of(p).pending_count.load(std::memory_order_relaxed));
}

void report_dead(actor_ref& ref, task_state* reply) {
  if (!reply) {
    dropped_count()++;
    return;
  }
  reply->fail(0, std::make_exception_ptr(actor_died(ref.address.name, reason_of_local(ref.address.id))));
}

// -- monitors and links -------------------------------------------------------------------

namespace {

std::uint64_t watch_local(const std::shared_ptr<actor_cell>& c, std::uint64_t id, down_fn fn) {
  {
    std::lock_guard<std::mutex> lock(c->mtx);
    if (c->alive) {
      c->more_locked().watchers.emplace_back(id, std::move(fn));
      return id;
    }
  }
  fn(down{c->address.name, c->address.pid, reason_of_local(c->address.id)});
  return id;
}

void exit_signal(const std::shared_ptr<actor_cell>& target, const down& d) {
  std::weak_ptr<actor_cell> weak = target;
  post_local(*target, make_callable([weak, d] {
    auto t = weak.lock();
    if (!t)
      return;
    down_fn trap;
    {
      std::lock_guard<std::mutex> lock(t->mtx);
      if (t->more)
        trap = t->more->trap;
    }
    if (trap) {
      trap(d);
      return;
    }
    if (d.reason.normal())
      return;
    {
      std::lock_guard<std::mutex> lock(t->mtx);
      t->more_locked().reason = {down_reason::kind::linked, 0, 0, d.actor + " " + d.reason.describe()};
    }
    t->stop_requested = true;
  }));
}

} // namespace

std::uint64_t watch(actor_ref& ref, down_fn fn, actor_cell* on_actor) {
  if (on_actor) { // run the callback on that actor, in its turn
    std::weak_ptr<actor_cell> weak = on_actor->shared_from_this();
    fn = [weak, fn = std::move(fn)](const down& d) {
      if (auto c = weak.lock())
        if (c->alive)
          post_local(*c, make_callable([fn, d] { fn(d); }));
    };
  }
  auto id = next_watch++;
  auto& a = ref.address;
  if (a.pid == self_pid() && (ref.local || !transport::running()
                              || transport::running()->endpoint() == a.endpoint)) {
    auto c = ref.local ? ref.local : find_live(a.id);
    if (!c) {
      fn(down{a.name, a.pid, reason_of_local(a.id)});
      return id;
    }
    return watch_local(c, id, std::move(fn));
  }
  ensure_handlers();
  peer_ptr p;
  try {
    p = transport::get().connect(a.endpoint);
  } catch (const error&) {
    auto why = reason_for_pid(a.pid);
    if (why.what == down_reason::kind::unreachable && !a.parent.empty())
      ask_parent_why(a.parent, a.pid, why, [fn, a](const down_reason& r) { fn(down{a.name, a.pid, r}); });
    else
      fn(down{a.name, a.pid, why});
    return id;
  }
  auto& st = state_of(p);
  {
    std::lock_guard<std::mutex> lock(st.mtx);
    st.watches[id] = {fn, a};
  }
  std::string out(1, static_cast<char>(op_monitor));
  put(out, a.id);
  put(out, id);
  if (!transport::get().send(p, out, true) || p->closed()) {
    if (take_entry(st.mtx, st.watches, id))
      fn(down{a.name, a.pid, reason_for_peer(p)});
  }
  return id;
}

void unwatch(actor_ref& ref, std::uint64_t id) noexcept {
  auto& a = ref.address;
  if (auto c = ref.local ? ref.local : (a.pid == self_pid() ? find_live(a.id) : nullptr)) {
    std::lock_guard<std::mutex> lock(c->mtx);
    if (!c->more)
      return;
    auto& w = c->more->watchers;
    w.erase(std::remove_if(w.begin(), w.end(), [id](auto& e) { return e.first == id; }), w.end());
    return;
  }
  // Remote: forget it here; the other node's notice will find nobody.
  if (auto* tr = transport::running()) {
    try {
      auto p = tr->connect(a.endpoint);
      auto& st = state_of(p);
      std::lock_guard<std::mutex> lock(st.mtx);
      st.watches.erase(id);
    } catch (...) {
    }
  }
}

namespace {

// Makes `target` (anywhere) stop when `other` dies abnormally.
void install_link(actor_ref& target, actor_ref& other) {
  auto& a = target.address;
  if (a.pid == self_pid()) {
    auto c = target.local ? target.local : find_live(a.id);
    if (!c)
      return;
    std::weak_ptr<actor_cell> weak = c;
    watch(other, [weak](const down& d) {
      if (auto t = weak.lock())
        exit_signal(t, d);
    }, nullptr);
    return;
  }
  ensure_handlers();
  auto p = transport::get().connect(a.endpoint);
  std::string out(1, static_cast<char>(op_link));
  put(out, a.id);
  out += encode(other.address);
  transport::get().send(p, out, true);
}

} // namespace

void link_refs(actor_ref& a, actor_ref& b) {
  install_link(a, b);
  install_link(b, a);
}

// -- timers ------------------------------------------------------------------------------

void cell_after(actor_cell& c, duration d, std::shared_ptr<timer_state> t, std::function<void()> fn,
                bool periodic) {
  std::weak_ptr<actor_cell> weak = c.shared_from_this();
  struct tick {
    static void arm(std::weak_ptr<actor_cell> weak, duration d, std::shared_ptr<timer_state> t,
                    std::function<void()> fn, bool periodic) {
      auto c = weak.lock();
      if (!c || !c->alive || t->cancelled)
        return;
      auto env = make_callable([weak, d, t, fn, periodic] {
        if (t->cancelled)
          return;
        if (periodic) // re-armed first, so a slow tick does not drift
          arm(weak, d, t, fn, periodic);
        fn();
      });
      auto& clock = actors::system().clock();
      auto when = clock.now() + std::chrono::duration_cast<caf::timespan>(d);
      clock.schedule_message(when, caf::actor_cast<caf::strong_actor_ptr>(c->handle),
                             caf::make_mailbox_element(nullptr, caf::make_message_id(), {},
                                                       std::move(env)));
    }
  };
  tick::arm(weak, d, std::move(t), std::move(fn), periodic);
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

// -- the registry (served by the root node) ------------------------------------------------

std::string root_endpoint() {
  {
    std::lock_guard<std::mutex> lock(root_mtx);
    if (!root_ep.empty())
      return root_ep;
  }
  auto* n = current_node();
  if (n && !n->parent) { // the root serves it: its transport runs from now on
    auto ep = ensure_handlers().endpoint();
    std::lock_guard<std::mutex> lock(root_mtx);
    root_ep = ep;
  }
  std::lock_guard<std::mutex> lock(root_mtx);
  return root_ep;
}

std::string own_endpoint_if_running() {
  auto* tr = transport::running();
  return tr ? tr->endpoint() : std::string();
}

void set_parent_endpoint(std::string e) {
  std::lock_guard<std::mutex> lock(root_mtx);
  parent_ep = std::move(e);
}

std::string registry_endpoint() {
  auto ep = root_endpoint();
  if (ep.empty())
    throw error(errc::no_node, "the registry is served by the root node, which this process "
                               "cannot reach");
  return ep;
}

void set_root_endpoint(std::string e) {
  std::lock_guard<std::mutex> lock(root_mtx);
  root_ep = std::move(e);
}

namespace {

enum reg_op : std::uint8_t { reg_put = 1, reg_get = 2, reg_erase = 3, reg_claim = 4, reg_fulfil = 5 };

struct reg_entry {
  std::optional<actor_address> who;
  bool claimed = false;
  std::vector<std::shared_ptr<reply_route>> waiters;
};

struct registry_state {
  std::mutex mtx;
  std::unordered_map<std::string, reg_entry> names;
};

registry_state& reg() {
  static auto* r = new registry_state;
  return *r;
}

// The registry's logic, run in the root node. Answers through `route`.
void registry_apply(reg_op what, const std::string& name, std::optional<actor_address> who,
                    const std::shared_ptr<reply_route>& route) {
  auto& r = reg();
  std::unique_lock<std::mutex> lock(r.mtx);
  auto& e = r.names[name];
  auto answer = [&](std::optional<actor_address> a) { route->ok_encoded(encode(a)); };
  switch (what) {
    case reg_get: {
      auto a = e.who;
      if (!e.who && !e.claimed)
        r.names.erase(name);
      lock.unlock();
      answer(a);
      return;
    }
    case reg_erase:
      if (!e.claimed)
        r.names.erase(name);
      lock.unlock();
      answer(std::nullopt);
      return;
    case reg_claim:
      if (e.who) {
        auto a = e.who;
        lock.unlock();
        answer(a);
      } else if (e.claimed) {
        e.waiters.push_back(route); // answered when the claimer fulfils
      } else {
        e.claimed = true;
        lock.unlock();
        answer(std::nullopt); // yours to spawn
      }
      return;
    case reg_put:
    case reg_fulfil: {
      if (what == reg_put && e.who && (e.who->id != who->id || e.who->endpoint != who->endpoint)) {
        auto holder = e.who->name;
        lock.unlock();
        route->failed(std::make_exception_ptr(error(
          errc::bad_argument, "the name '" + name + "' is already registered to actor " + holder)));
        return;
      }
      e.claimed = false;
      e.who = who;
      auto waiters = std::move(e.waiters);
      e.waiters.clear();
      if (!who)
        r.names.erase(name);
      lock.unlock();
      for (auto& w : waiters) {
        // A failed claim lets the next waiter try (it will spawn).
        if (!who)
          registry_apply(reg_claim, name, std::nullopt, w);
        else
          w->ok_encoded(encode(who));
      }
      answer(std::nullopt);
      if (who) { // the name goes when its actor stops
        auto ref = ref_for(*who);
        auto id = who->id;
        auto ep = who->endpoint;
        watch(*ref, [name, id, ep](const down&) {
          auto& rr = reg();
          std::lock_guard<std::mutex> l(rr.mtx);
          auto it = rr.names.find(name);
          if (it != rr.names.end() && it->second.who && it->second.who->id == id
              && it->second.who->endpoint == ep)
            rr.names.erase(it);
        }, nullptr);
      }
      return;
    }
  }
}

void on_registry(const peer_ptr& p, const char* data, std::size_t size) {
  if (size < 9)
    return;
  auto req = take<std::uint64_t>(data);
  auto what = static_cast<reg_op>(*data++);
  auto route = std::make_shared<peer_route>(p, req);
  try {
    auto [name, who] = decode<std::tuple<std::string, std::optional<actor_address>>>(data, size - 9);
    if (what < reg_put || what > reg_fulfil || ((what == reg_put) && !who))
      throw error(errc::bad_payload, "a malformed registry request");
    registry_apply(what, name, who, route);
  } catch (...) {
    route->failed(std::current_exception());
  }
}

// Fills a local future with the registry's answer.
class local_route final : public reply_route {
public:
  explicit local_route(std::shared_ptr<result_state<std::optional<actor_address>>> st)
    : st_(std::move(st)) {}
  void ok_encoded(std::string bytes) override {
    try {
      st_->deliver(0, bytes.data(), bytes.size());
    } catch (...) {
      st_->fail(0, std::current_exception());
    }
  }
  void failed(std::exception_ptr e) override { st_->fail(0, e); }

private:
  std::shared_ptr<result_state<std::optional<actor_address>>> st_;
};

std::optional<actor_address> registry_call(reg_op what, const std::string& name,
                                           std::optional<actor_address> who, duration timeout) {
  if (name.empty())
    throw error(errc::bad_argument, "an actor's registered name must not be empty");
  auto ep = root_endpoint();
  if (ep.empty())
    throw error(errc::no_node, "the registry is served by the root node, which this process "
                               "cannot reach");
  ensure_handlers();
  auto st = std::make_shared<result_state<std::optional<actor_address>>>();
  auto& tr = transport::get();
  if (ep == tr.endpoint()) {
    registry_apply(what, name, std::move(who), std::make_shared<local_route>(st));
  } else {
    auto p = tr.connect(ep);
    auto req = next_request++;
    {
      auto& ps = state_of(p);
      std::lock_guard<std::mutex> lock(ps.mtx);
      ps.pending[req] = {st, "the registry", {}};
      ps.pending_count.fetch_add(1, std::memory_order_relaxed);
    }
    std::string out(1, static_cast<char>(op_registry));
    put(out, req);
    out.push_back(static_cast<char>(what));
    out += encode(std::make_tuple(name, who));
    tr.send(p, out, true);
  }
  future<std::optional<actor_address>> f(st);
  return f.get(timeout);
}

} // namespace

void registry_put(const std::string& name, const actor_address& a) {
  registry_call(reg_put, name, a, std::chrono::seconds(30));
}

std::optional<actor_address> registry_get(const std::string& name) {
  return registry_call(reg_get, name, std::nullopt, std::chrono::seconds(30));
}

void registry_erase(const std::string& name) {
  registry_call(reg_erase, name, std::nullopt, std::chrono::seconds(30));
}

std::optional<actor_address> registry_claim(const std::string& name, duration timeout) {
  return registry_call(reg_claim, name, std::nullopt, timeout);
}

void registry_fulfil(const std::string& name, const actor_address* a) {
  registry_call(reg_fulfil, name, a ? std::optional<actor_address>(*a) : std::nullopt,
                std::chrono::seconds(30));
}

void check_type(const actor_address& a, const char* wanted) {
  if (a.type != wanted)
    throw error(errc::bad_argument, "actor " + a.name + " is a " + type_name(a.type.c_str())
                                      + ", not a " + type_name(wanted));
}

void request_stop(actor_ref& ref) {
  if (auto* c = live_local(ref)) {
    post_local(*c, std::make_shared<stop_envelope>());
    return;
  }
  auto& a = ref.address;
  if (a.pid == self_pid() && transport::running() && transport::running()->endpoint() == a.endpoint)
    return; // ours, and gone
  try {
    auto& tr = ensure_handlers();
    auto p = tr.connect(a.endpoint);
    std::string out(1, static_cast<char>(op_stop));
    put(out, a.id);
    tr.send(p, out, true);
  } catch (const error&) { // gone already
  }
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
