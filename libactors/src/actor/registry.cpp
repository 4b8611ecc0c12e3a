// The registry of actor names, served by the root node: the root's and
// parent's endpoints, the registry's logic and its calls.

#include "actor/runtime_state.hpp"

namespace actors::detail {

using namespace actor_wire;

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

} // namespace actors::detail
