// Calls that arrive from other processes: methods on the wire, call batches,
// and the transport's handlers for call, down, monitor, link, spawn and stop
// (plus request_stop, which sends the stop).

#include "actor/runtime_state.hpp"

namespace actors::detail {

using namespace actor_wire;

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

namespace {

// The inbound loop's cache of call headers it has resolved.
struct resolved_call {
  remote_runner runner = nullptr;
  raw_method method{0, 0};
  bool ok = false;
};

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

// Runs on the actor: a normal stop after the messages before it.
class stop_envelope final : public envelope {
public:
  void run(void*, actor_cell& cell) override { cell.stop_requested = true; }
  std::uint32_t weight() const noexcept override { return 0; }
};

} // namespace

void post_open_batch() {
  if (!open_batch)
    return;
  auto b = std::move(open_batch);
  open_batch.reset();
  auto target = b->target();
  post_local(*target, std::move(b));
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

void on_stop_request(const peer_ptr&, const char* data, std::size_t size) {
  if (size < 8)
    return;
  post_open_batch(); // after the calls that arrived before it
  if (auto c = find_live(take<std::uint64_t>(data)))
    post_local(*c, std::make_shared<stop_envelope>());
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

} // namespace actors::detail
