// What this node keeps per connection for the actors it talks to: pending
// asks, remote monitors, mailbox windows; replies and errors on the wire, why
// a peer is gone, the watchdog for frozen peers, and sending a call.

#include "actor/runtime_state.hpp"
#include "io/route.hpp"

namespace actors::detail {

using namespace actor_wire;

namespace {

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

} // namespace

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
  if (p->remote()) // its pid is not ours to look up; its parent there may know
    return {down_reason::kind::unreachable, 0, 0,
            "the node of pid " + std::to_string(p->pid()) + " on host "
              + p->endpoint().substr(0, p->endpoint().find(':'))
              + " closed its connection, or its host left the cluster"};
  return reason_for_pid(p->pid());
}

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
    if (!p->service_state_ready.load(std::memory_order_acquire) || p->remote())
      continue; // another host's process: the cluster's heartbeat watches it
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
  } catch (const error& e) {
    if (!reply) {
      dropped_count()++;
      return refusal::none;
    }
    auto why = is_remote_endpoint(a.endpoint)
                 ? down_reason{down_reason::kind::unreachable, 0, 0, e.what()}
                 : reason_for_pid(a.pid);
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
  {
    crossing_hosts_scope far(is_remote_endpoint(a.endpoint)); // locks go by coordinator
    write(out, args);
  }
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

} // namespace actors::detail
