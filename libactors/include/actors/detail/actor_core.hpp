#pragma once
// What the actor templates need from the runtime: the shared state behind a
// handle, messages as envelopes run on the actor, and how a method crosses
// into another process without registration. Internal; include
// <actors/actor.hpp>.

#include <actors/detail/wire_endpoint.hpp>
#include <actors/detail/target.hpp>
#include <actors/down_reason.hpp>
#include <actors/mailbox.hpp>
#include <actors/errors.hpp>
#include <actors/future.hpp>
#include <actors/time.hpp>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace actors {

template <class T>
class promise;

namespace detail {

class actor_cell; // a running actor (src/actor)
struct raw_method;

/// An immutable string whose copies share one buffer: every actor of a node
/// has the same endpoint and parent, and an idle actor should not pay for
/// its own copies (about 130 bytes each). Serialized as a plain string.
class shared_text {
public:
  shared_text() = default;
  shared_text(std::string s) // NOLINT: converts, as a string would
    : text_(s.empty() ? nullptr : std::make_shared<const std::string>(std::move(s))) {}
  shared_text(const char* s) : shared_text(std::string(s)) {} // NOLINT

  const std::string& str() const noexcept { return text_ ? *text_ : none(); }
  operator const std::string&() const noexcept { return str(); } // NOLINT
  bool empty() const noexcept { return !text_; }

  friend bool operator==(const shared_text& a, const shared_text& b) noexcept {
    return a.text_ == b.text_ || a.str() == b.str();
  }
  friend bool operator!=(const shared_text& a, const shared_text& b) noexcept { return !(a == b); }
  friend bool operator<(const shared_text& a, const shared_text& b) noexcept {
    return a.str() < b.str();
  }
  friend bool operator==(const shared_text& a, const std::string& b) noexcept { return a.str() == b; }
  friend bool operator!=(const shared_text& a, const std::string& b) noexcept { return a.str() != b; }

  template <class Archive>
  void save(Archive& ar) const {
    ar(str());
  }
  template <class Archive>
  void load(Archive& ar) {
    std::string s;
    ar(s);
    *this = shared_text(std::move(s));
  }

private:
  static const std::string& none() noexcept {
    static const std::string empty;
    return empty;
  }
  std::shared_ptr<const std::string> text_;
};

/// Where an actor lives: enough to reach it from any process of the machine,
/// and in a cluster from any host (its endpoints then name their host).
struct actor_address {
  shared_text endpoint;   // its node's transport socket
  int pid = 0;            // its process
  std::uint64_t id = 0;   // its number in that node
  std::string type;       // typeid(T).name() of its class
  std::string name;       // "counter-3"
  shared_text parent;     // its process's parent node, which can tell why it ended
  /// A supervised child: `endpoint` and `id` stay the same across restarts,
  /// so a handle reaches whichever instance runs now (`pid` is the one that
  /// ran when the handle was made).
  bool restartable = false;
  mailbox_options mailbox; // its bound, which every sender follows

  template <class Archive>
  void save(Archive& ar) const {
    if (cluster_host().empty())
      ar(endpoint, pid, id, type, name, parent, restartable, mailbox);
    else
      ar(endpoint_to_wire(endpoint), pid, id, type, name, endpoint_to_wire(parent), restartable,
         mailbox);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(endpoint, pid, id, type, name, parent, restartable, mailbox);
    if (!cluster_host().empty()) {
      endpoint = endpoint_from_wire(endpoint.str());
      parent = endpoint_from_wire(parent.str());
    }
  }
};

/// Who a new actor is, when its spawner decides: a supervisor gives each
/// child a name, an id and an endpoint that its restarts keep; any spawner
/// its mailbox's bound.
struct cell_identity {
  std::string name;       // empty: the node names it ("counter-3")
  std::uint64_t id = 0;   // 0: the node's next id; else this id (restartable)
  std::string endpoint;   // empty: this node's; else where its handles connect
  mailbox_options mailbox;
  std::string supervisor; // its supervisor's name, for actors-top
  std::uint32_t restarts = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, id, endpoint, mailbox, supervisor, restarts);
  }
};

/// Something to run on an actor, in its turn: a local call, a call that came
/// from another process, a continuation, a timer.
class envelope {
public:
  virtual ~envelope() = default;
  /// Runs on the actor; `obj` is its object.
  virtual void run(void* obj, actor_cell& cell) = 0;
  /// How many user messages it carries (a batch of remote calls: several).
  virtual std::uint32_t weight() const noexcept { return 1; }
  /// What post_local() added to its actor's mailbox depth (0: not counted,
  /// as for timers, which CAF's clock enqueues itself).
  std::uint32_t counted = 0;
};

/// The shared state of every copy of one handle.
class actor_ref {
  std::shared_ptr<const actor_address> shared_; // one per actor, shared by its handles

public:
  explicit actor_ref(std::shared_ptr<const actor_address> a)
    : shared_(std::move(a)), address(*shared_) {}
  explicit actor_ref(actor_address a)
    : actor_ref(std::make_shared<const actor_address>(std::move(a))) {}
  const std::shared_ptr<const actor_address>& shared_address() const noexcept { return shared_; }
  const actor_address& address;
  /// The running actor when it lives in this process (null otherwise, or
  /// once it is known to be gone).
  std::shared_ptr<actor_cell> local;
  /// The connection to its node, once used (std::atomic_load/store).
  std::shared_ptr<void> conn;
};

/// Finds or builds the state of a handle to `a` (used when a handle is
/// decoded). Never throws for a dead actor: using it reports the death.
std::shared_ptr<actor_ref> ref_for(actor_address a);

/// Where a finished call's answer goes: a future in this process, or a
/// request waiting in another one.
class reply_route {
public:
  virtual ~reply_route() = default;
  /// The encoded result (remote) or nullptr when `local_value` was used.
  virtual void ok_encoded(std::string bytes) = 0;
  virtual void failed(std::exception_ptr e) = 0;
  /// The future to fill directly when the asker is in this process.
  virtual task_state* local_state() noexcept { return nullptr; }
};

// -- the runtime's entry points -------------------------------------------

/// Why a call found no room in a bounded mailbox (none: it got one).
enum class refusal : std::uint8_t {
  none,
  full,        ///< on_full::fail, or try_tell
  timed_out,   ///< on_full::block, and no room within the timeout
  cannot_wait, ///< on_full::block on a thread that would wait on itself
};

/// The queue_full a refused call reports, naming the actor and the bound.
[[noreturn]] void throw_mailbox_full(const actor_address& a, refusal why);
std::exception_ptr mailbox_full_error(const actor_address& a, refusal why);

/// Takes a place in the mailbox of a local actor for one user call: always
/// counts it; a bounded mailbox that is full waits or refuses as its
/// options say (`nowait`: never waits). Then post_local(..., true).
refusal enter_mailbox(actor_cell& cell, bool nowait);

/// Runs `env` on the actor `ref` names. In-process: into its CAF mailbox.
/// `entered`: enter_mailbox() already counted it. Remote is handled by
/// send_remote.
void post_local(actor_cell& cell, std::shared_ptr<envelope> env, bool entered = false);

/// Sends a call to an actor in another process. `reply` is null for a tell.
/// Writes a call's arguments into the frame being built.
using args_writer = void (*)(std::string& out, const void* args);
template <class Tuple>
void write_args(std::string& out, const void* args) {
  encode_append(out, *static_cast<const Tuple*>(args));
}
/// A bounded mailbox is full: nothing is sent, an ask's `reply` is failed
/// with queue_full, and the refusal is returned (`nowait`: never waits).
refusal send_remote(actor_ref& ref, const std::string& call_header, args_writer write,
                    const void* args, std::shared_ptr<task_state> reply, bool nowait = false);

/// The asks this process has sent to the actor of `ref` that are not yet
/// answered (all its process's actors count: one connection), or for an
/// actor of this process its mailbox depth; -1 when its connection has
/// closed (its process ended; the next call dials again).
int asks_in_flight(actor_ref& ref) noexcept;

/// Fails `reply` (or counts a dropped tell) for an actor known to be gone.
void report_dead(actor_ref& ref, task_state* reply);

/// The cell of `ref` if it lives and is in this process.
actor_cell* live_local(actor_ref& ref);

/// An ask/tell's method threw on the actor: builds the remote_error (type,
/// what(), actor name, pid, method) for the current exception, or stops the
/// actor with it when nobody asked (`reply` null).
std::exception_ptr method_failed(actor_cell& cell, const raw_method* method, bool asked);

/// A message that never ran (its actor stopped first) fails its ask with
/// actor_died, so no asker waits forever.
void fail_abandoned(task_state& reply, actor_cell& cell) noexcept;

/// The actor this thread runs now, or nullptr.
actor_cell* current_cell() noexcept;

/// Spawning. `make` constructs the object; `destroy` deletes it.
struct actor_kind {
  const char* type;                // typeid(T).name()
  std::string pretty;              // "counter" (no namespaces), for names
  void (*destroy)(void*);
  void (*on_start)(void*);         // T::on_start, or null
  void (*on_stop)(void*);          // T::on_stop, or null
  mutable std::atomic<std::uint64_t> spawned{0}; // numbers its default names
};
/// `announce`, when given, gets the actor's address once messages to it
/// are delivered but before on_start() runs: a process that hosts one
/// actor reports it to its parent there, so a crash in the actor's first
/// step is the death of a running actor, never a failed spawn. (Only a
/// restarted actor, whose address others knew, can get a message first.)
/// If it throws, the actor is asked to stop and the exception propagates.
std::shared_ptr<actor_ref> spawn_cell(const actor_kind& kind, void* obj, const std::string& name,
                                      const mailbox_options& mailbox = {},
                                      const cell_identity* who = nullptr,
                                      const std::function<void(const actor_address&)>& announce = {});

// -- methods across processes ---------------------------------------------

template <class M>
struct method_traits;
template <class C, class R, class... Ps>
struct method_traits<R (C::*)(Ps...)> {
  using owner = C;
  using result = R;
  using args = std::tuple<std::decay_t<Ps>...>;
  static constexpr std::size_t arity = sizeof...(Ps);
};
template <class C, class R, class... Ps>
struct method_traits<R (C::*)(Ps...) const> : method_traits<R (C::*)(Ps...)> {};
template <class C, class R, class... Ps>
struct method_traits<R (C::*)(Ps...) noexcept> : method_traits<R (C::*)(Ps...)> {};
template <class C, class R, class... Ps>
struct method_traits<R (C::*)(Ps...) const noexcept> : method_traits<R (C::*)(Ps...)> {};

template <class R>
struct deferred_result {
  using type = R;
  static constexpr bool deferred = false;
};
template <class R>
struct deferred_result<promise<R>> {
  using type = R;
  static constexpr bool deferred = true;
};

/// What `ask` on method M yields: the method's result, or R for a method
/// that returns promise<R> (it replies later).
template <class M>
using ask_result_t = typename deferred_result<std::decay_t<typename method_traits<M>::result>>::type;

/// A member function pointer as it travels: the Itanium C++ ABI stores a
/// code address (or, for a virtual method, 1 + its vtable offset) and a
/// `this` adjustment. The address travels as (module, offset) like a
/// process target.
struct method_code {
  bool is_virtual = false;
  code_location where;      // non-virtual: the function
  std::uint64_t vtable = 0; // virtual: 1 + vtable offset
  std::int64_t adjust = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(is_virtual, where, vtable, adjust);
  }
};

struct raw_method {
  std::uintptr_t ptr;
  std::ptrdiff_t adj;
};

template <class M>
raw_method raw_of(M m) noexcept {
  static_assert(sizeof(M) == sizeof(raw_method),
                "actors: member function pointers of this ABI are not supported");
  raw_method r;
  std::memcpy(&r, &m, sizeof r);
  return r;
}

template <class M>
M method_of(raw_method r) noexcept {
  M m;
  std::memcpy(&m, &r, sizeof m);
  return m;
}

/// Encodes a method once per method pointer value (cached by the caller).
method_code encode_method(raw_method r);
/// Finds a method in this process again; false when its module is missing.
bool decode_method(const method_code& c, raw_method& out) noexcept;

/// A readable name for a method: its symbol when the program exports one,
/// else "method at <module>+0x<offset>".
std::string method_name(raw_method r);

/// Runs an encoded call on `obj`: decodes the arguments, calls, encodes the
/// result. A throwing method throws; a payload that does not decode throws
/// errc::bad_payload. A deferred method binds `route` instead of answering.
using remote_runner = std::string (*)(void* obj, raw_method m, const char* data,
                                      std::size_t size, std::shared_ptr<reply_route> route,
                                      bool& deferred);

template <class T, class M>
std::string run_remote(void* obj, raw_method rm, const char* data, std::size_t size,
                       std::shared_ptr<reply_route> route, bool& deferred) {
  using traits = method_traits<M>;
  using R = typename traits::result;
  auto args = decode<typename traits::args>(data, size);
  auto m = method_of<M>(rm);
  auto* self = static_cast<T*>(obj);
  auto call = [&](auto&... a) -> decltype(auto) { return (self->*m)(std::move(a)...); };
  if constexpr (std::is_void_v<R>) {
    std::apply(call, args);
    return encode(none_t{});
  } else if constexpr (deferred_result<std::decay_t<R>>::deferred) {
    auto p = std::apply(call, args);
    deferred = true;
    p.bind_remote(std::move(route));
    return {};
  } else {
    return encode(std::apply(call, args));
  }
}

/// The header of a remote call: which method, run by which runner.
std::string call_header(const code_location& runner, const method_code& method);

template <class T, class M>
const std::string& call_header_for(M m) {
  // Per method pointer value: two methods of one signature share a runner.
  thread_local raw_method last{0, 0};
  thread_local std::string header;
  auto r = raw_of(m);
  if (header.empty() || r.ptr != last.ptr || r.adj != last.adj) {
    static const code_location runner = locate(reinterpret_cast<any_fn>(&run_remote<T, M>));
    header = call_header(runner, encode_method(r));
    last = r;
  }
  return header;
}

/// A call made in this process: the arguments are moved, never encoded.
template <class T, class M, class Tuple>
class local_call final : public envelope {
public:
  using R = typename method_traits<M>::result;
  using A = ask_result_t<M>;
  local_call(M m, Tuple args, std::shared_ptr<result_state<A>> reply, actor_cell& target)
    : m_(m), args_(std::move(args)), reply_(std::move(reply)), target_(&target) {}
  ~local_call() override {
    if (reply_ && !ran_)
      fail_abandoned(*reply_, *target_);
  }

  void run(void* obj, actor_cell& cell) override {
    ran_ = true;
    auto* self = static_cast<T*>(obj);
    auto call = [&](auto&... a) -> decltype(auto) { return (self->*m_)(std::move(a)...); };
    try {
      if constexpr (std::is_void_v<R>) {
        std::apply(call, args_);
        if (reply_)
          reply_->set(none_t{});
      } else if constexpr (deferred_result<std::decay_t<R>>::deferred) {
        auto p = std::apply(call, args_);
        if (reply_)
          p.bind_local(reply_);
      } else {
        auto r = std::apply(call, args_);
        if (reply_)
          reply_->set(std::move(r));
      }
    } catch (...) {
      auto raw = raw_of(m_);
      auto e = method_failed(cell, &raw, reply_ != nullptr);
      if (reply_)
        reply_->fail(0, e);
    }
  }

private:
  M m_;
  Tuple args_;
  std::shared_ptr<result_state<A>> reply_;
  actor_cell* target_;
  bool ran_ = false;
};

/// Runs any callable on the actor (continuations, timers, monitors).
template <class F>
class callable_envelope final : public envelope {
public:
  explicit callable_envelope(F f) : f_(std::move(f)) {}
  void run(void*, actor_cell& cell) override {
    try {
      f_();
    } catch (...) {
      method_failed(cell, nullptr, false);
    }
  }

private:
  F f_;
};

template <class F>
std::shared_ptr<envelope> make_callable(F f) {
  return std::make_shared<callable_envelope<F>>(std::move(f));
}

template <class T, class = void>
struct has_on_start : std::false_type {};
template <class T>
struct has_on_start<T, std::void_t<decltype(std::declval<T&>().on_start())>> : std::true_type {};
template <class T, class = void>
struct has_on_stop : std::false_type {};
template <class T>
struct has_on_stop<T, std::void_t<decltype(std::declval<T&>().on_stop())>> : std::true_type {};

/// The class's own name, without namespaces: "ns::counter" gives "counter".
std::string name_base(const char* mangled);

/// The next default name for an actor of `kind` spawned by this node
/// ("counter-3").
std::string next_name(const actor_kind& kind);

template <class T>
const actor_kind& kind_of() {
  static const actor_kind k{
    typeid(T).name(), name_base(typeid(T).name()), [](void* p) { delete static_cast<T*>(p); },
    has_on_start<T>::value ? +[](void* p) {
      if constexpr (has_on_start<T>::value)
        static_cast<T*>(p)->on_start();
    } : nullptr,
    has_on_stop<T>::value ? +[](void* p) {
      if constexpr (has_on_stop<T>::value)
        static_cast<T*>(p)->on_stop();
    } : nullptr};
  return k;
}

} // namespace detail
} // namespace actors
