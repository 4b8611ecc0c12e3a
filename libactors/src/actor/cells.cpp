// This node's actors: the CAF actor that runs one, spawning, the cells'
// accessors, posting to a local mailbox (bounded ones included), refs to
// local actors, why one stopped, and timers.

#include "actor/runtime_state.hpp"

namespace actors {

std::uint64_t dropped_messages() noexcept {
  return detail::dropped_count().load();
}

namespace detail {

using namespace actor_wire;

std::atomic<std::uint64_t>& dropped_count() noexcept {
  static std::atomic<std::uint64_t> n{0};
  return n;
}
namespace {

thread_local actor_cell* running_cell = nullptr;

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
                                      const mailbox_options& mailbox, const cell_identity* who,
                                      const std::function<void(const actor_address&)>& announce) {
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
  if (announce) {
    // Whoever learns the address here can reach the actor at once (it is
    // in the table), and nothing of it has run yet: nobody else knows it.
    try {
      announce(c->address);
    } catch (...) {
      try {
        request_stop(*r);
      } catch (...) {
      }
      throw;
    }
  }
  if (kind.on_start) {
    struct start : envelope { // runs nothing: make_behavior() ran on_start()
      void run(void*, actor_cell&) override {}
      std::uint32_t weight() const noexcept override { return 0; } // not a user message
    };
    post_local(*c, std::make_shared<start>(), false);
  }
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

} // namespace detail
} // namespace actors
