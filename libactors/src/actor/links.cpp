// Monitors and links: down reasons, watching an actor here or anywhere,
// exit signals, and links between actors.

#include "actor/runtime_state.hpp"

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

namespace detail {

using namespace actor_wire;

// -- monitors and links -------------------------------------------------------------------

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

} // namespace detail
} // namespace actors
