#pragma once
/// @file actor_context.hpp
/// What an actor's methods can do besides computing a result: reach their
/// own handle, ask other actors without blocking, answer later through a
/// promise, run code after a delay or every period, stop, and watch other
/// actors (monitors and links). Also the machine-wide registry of names.
///
/// @code
/// struct greeter {
///   actors::actor<store> db;
///   actors::promise<std::string> hello(std::string who) {
///     actors::promise<std::string> p;
///     actors::self().then(db.ask(&store::get, who), [p](actors::future<std::string> f) mutable {
///       p.set_value("hello " + f.get());             // runs on this actor
///     });
///     return p;                                     // the asker waits for set_value
///   }
/// };
/// @endcode
///
/// An actor should not block on a future: while it waits, it handles no
/// other message, and other actors of its process that the same thread
/// would run wait too. `self().then(...)` runs a continuation instead.

#include <actors/actor.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

namespace actors {

/// A monitor's report: which actor stopped, and why.
struct down {
  std::string actor; ///< its name
  int pid = 0;       ///< its process
  down_reason reason;
};

namespace detail {

using down_fn = std::function<void(const down&)>;

std::uint64_t watch(actor_ref& ref, down_fn fn, actor_cell* on_actor);
void unwatch(actor_ref& ref, std::uint64_t id) noexcept;
/// Asks the actor of `ref` (here or in another process) to stop normally
/// once the messages ahead of this request have run. Never blocks.
void request_stop(actor_ref& ref);
void link_refs(actor_ref& a, actor_ref& b);
void cell_stop(actor_cell& c) noexcept;
void cell_trap_exit(actor_cell& c, down_fn fn);
std::shared_ptr<actor_ref> cell_ref(actor_cell& c);
const std::string& cell_name(actor_cell& c) noexcept;
const char* cell_type(actor_cell& c) noexcept;
struct timer_state {
  std::atomic<bool> cancelled{false};
};
void cell_after(actor_cell& c, duration d, std::shared_ptr<timer_state> t,
                std::function<void()> fn, bool periodic);
[[noreturn]] void throw_not_in_actor(const char* what);
actor_cell& require_cell(const char* what);

void registry_put(const std::string& name, const actor_address& a);
std::optional<actor_address> registry_get(const std::string& name);
void registry_erase(const std::string& name);
/// The registered actor, or a claim to spawn it: nullopt means "spawn it
/// now and registry_fulfil()"; others calling meanwhile wait for that.
std::optional<actor_address> registry_claim(const std::string& name, duration timeout);
void registry_fulfil(const std::string& name, const actor_address* a);
void check_type(const actor_address& a, const char* wanted);
/// The endpoint of the root node, which serves the registry.
std::string registry_endpoint();

/// Runs in the root node: spawns a T in a new child process of the root.
template <class T, class... D>
std::shared_ptr<actor_ref> spawn_child_here(const char* data, std::size_t size) {
  auto args = decode<std::tuple<D...>>(data, size);
  return std::apply(
    [](auto&... a) { return handle_access::ref(actors::spawn<T>(in_new_process, std::move(a)...)); },
    args);
}

} // namespace detail

/// A timer started by self().after() or self().every().
/// - Thread-safe: cancel() from anywhere; a cancelled timer never fires again.
class timer {
public:
  timer() = default;
  explicit timer(std::shared_ptr<detail::timer_state> s) : s_(std::move(s)) {}
  void cancel() noexcept {
    if (s_)
      s_->cancelled = true;
  }

private:
  std::shared_ptr<detail::timer_state> s_;
};

/// The answer to an ask, given later. A method that returns promise<R>
/// makes its asker's future<R> wait until set_value()/set_exception() is
/// called, from the actor or from any thread. A promise never fulfilled
/// fails its asker with errc::broken_pipe when its last copy goes away.
/// - Thread-safe; setting it twice throws errc::bad_argument.
template <class R>
class promise {
  using stored = detail::stored_t<R>;
  struct state {
    std::mutex mtx;
    std::optional<stored> value;
    std::exception_ptr failure;
    bool set = false, sent = false;
    std::shared_ptr<detail::result_state<R>> local;
    std::shared_ptr<detail::reply_route> remote;
    ~state() {
      if (!set && (local || remote)) {
        auto e = std::make_exception_ptr(error(errc::broken_pipe,
                                               "the actor dropped its promise without answering"));
        if (local)
          local->fail(0, e);
        else
          remote->failed(e);
      }
    }
    void deliver(std::unique_lock<std::mutex>& lock) {
      if (!set || sent || (!local && !remote))
        return;
      sent = true;
      auto l = local;
      auto r = remote;
      auto v = std::move(value);
      auto e = failure;
      lock.unlock();
      if (e) {
        if (l)
          l->fail(0, e);
        else
          r->failed(e);
      } else if (l) {
        l->set(std::move(*v));
      } else {
        r->ok_encoded(detail::encode(*v));
      }
    }
  };

public:
  promise() : s_(std::make_shared<state>()) {}

  /// Answers the ask with `v`.
  void set_value(stored v) {
    std::unique_lock<std::mutex> lock(s_->mtx);
    mark(lock);
    s_->value.emplace(std::move(v));
    s_->deliver(lock);
  }
  /// For promise<void>.
  template <class U = R, class = std::enable_if_t<std::is_void_v<U>>>
  void set_value() {
    set_value(none_t{});
  }
  /// Fails the ask with `e` (the asker's get() throws it).
  void set_exception(std::exception_ptr e) {
    std::unique_lock<std::mutex> lock(s_->mtx);
    mark(lock);
    s_->failure = std::move(e);
    s_->deliver(lock);
  }

  // Used by the runtime when the method returns.
  void bind_local(std::shared_ptr<detail::result_state<R>> st) {
    std::unique_lock<std::mutex> lock(s_->mtx);
    s_->local = std::move(st);
    s_->deliver(lock);
  }
  void bind_remote(std::shared_ptr<detail::reply_route> route) {
    std::unique_lock<std::mutex> lock(s_->mtx);
    s_->remote = std::move(route);
    s_->deliver(lock);
  }

private:
  void mark(std::unique_lock<std::mutex>&) {
    if (s_->set)
      throw error(errc::bad_argument, "promise: the answer was already set");
    s_->set = true;
  }
  std::shared_ptr<state> s_;
};

/// What self() returns inside an actor's method.
/// - Blocks: never.
/// - Throws: errc::bad_argument when used outside an actor's method.
/// - Thread-safe only on the actor it belongs to.
class actor_context {
public:
  explicit actor_context(detail::actor_cell& c) : c_(&c) {}

  /// This actor's handle: `self().handle(this)`.
  template <class T>
  actor<T> handle(const T*) const {
    if (std::string(detail::cell_type(*c_)) != typeid(T).name())
      throw error(errc::bad_argument, "self().handle(this): this actor is a "
                                        + detail::type_name(detail::cell_type(*c_)) + ", not a "
                                        + detail::type_name(typeid(T).name()));
    return detail::handle_access::make<T>(detail::cell_ref(*c_));
  }

  /// This actor's name.
  const std::string& name() const noexcept { return detail::cell_name(*c_); }

  /// Stops this actor once the current message is done (a normal stop).
  void stop() noexcept { detail::cell_stop(*c_); }

  /// Runs `fn(f)` on this actor once `f` has ended (successfully or not).
  template <class R, class F>
  void then(future<R> f, F fn) {
    auto ref = detail::cell_ref(*c_);
    f.add_done_callback([ref, fn = std::move(fn)](const future<R>& done) mutable {
      if (auto* cell = detail::live_local(*ref))
        detail::post_local(*cell, detail::make_callable(
                                    [fn = std::move(fn), done]() mutable { fn(done); }));
    });
  }

  /// Runs `fn()` on this actor after `d`.
  template <class F>
  timer after(duration d, F fn) {
    auto t = std::make_shared<detail::timer_state>();
    detail::cell_after(*c_, d, t, std::function<void()>(std::move(fn)), false);
    return timer(t);
  }

  /// Runs `fn()` on this actor every `period`, until the timer is cancelled
  /// or the actor stops.
  template <class F>
  timer every(duration period, F fn) {
    auto t = std::make_shared<detail::timer_state>();
    detail::cell_after(*c_, period, t, std::function<void()>(std::move(fn)), true);
    return timer(t);
  }

  /// Runs `fn(down)` on this actor when `other` stops. Returns an id for
  /// demonitor().
  template <class U, class F>
  std::uint64_t monitor(const actor<U>& other, F fn) {
    return detail::watch(*detail::handle_access::ref(other), detail::down_fn(std::move(fn)), c_);
  }

  /// Links this actor to `other` (see actors::link).
  template <class U>
  void link(const actor<U>& other) {
    detail::link_refs(*detail::cell_ref(*c_), *detail::handle_access::ref(other));
  }

  /// Trap exits: when a linked actor dies, run `fn(down)` on this actor
  /// instead of stopping it.
  template <class F>
  void trap_exit(F fn) {
    detail::cell_trap_exit(*c_, detail::down_fn(std::move(fn)));
  }

  /// Spawns a child actor in this process.
  template <class T, class... A>
  actor<T> spawn(A&&... args) {
    return actors::spawn<T>(in_this_process, std::forward<A>(args)...);
  }

private:
  detail::actor_cell* c_;
};

/// The context of the actor whose method runs on this thread.
/// - Throws: errc::bad_argument outside an actor's method.
inline actor_context self() {
  return actor_context(detail::require_cell("actors::self()"));
}

/// Calls `fn(down)` when `a` stops, with why: a normal stop, an exception,
/// the process killed by signal N or exited with code N, or its node
/// unreachable. It runs on a libactors thread, so it must be quick. Seen
/// within milliseconds of a SIGKILL. Returns an id for demonitor().
/// - Thread-safe. An actor already gone is reported at once.
template <class T, class F>
std::uint64_t monitor(const actor<T>& a, F fn) {
  return detail::watch(*detail::handle_access::ref(a), detail::down_fn(std::move(fn)), nullptr);
}

/// How this node watches processes it waits on (asks pending, monitors):
/// every `every` it looks at them, and one that has been stopped (SIGSTOP,
/// a debugger) for `stopped_limit` counts as gone: its monitors see
/// down_reason::kind::unreachable and its asks fail with actor_died.
/// Defaults: 250 ms and 1.5 s, so a frozen process is seen within 2 s. A
/// killed process needs no heartbeat: its sockets close at once.
/// - Throws: errc::bad_argument unless 1 ms <= every <= stopped_limit.
void set_heartbeat(duration every, duration stopped_limit);

/// Asks `a` to stop, as Akka's PoisonPill does: the messages already in its
/// mailbox ahead of this request run first (from this sender, in order),
/// then its on_stop(), and its monitors see a normal stop. A process that
/// hosted only this actor exits. A supervised actor counts it as a normal
/// stop: a permanent one is restarted, a transient or temporary one is not.
/// @code
///   auto c = actors::spawn<counter>(actors::in_new_process, 0);
///   c.tell(&counter::add, 1);
///   actors::stop(c);   // add(1) runs first
/// @endcode
/// - Never blocks; nothing happens when the actor is gone already.
/// - Throws: errc::bad_argument on an empty handle.
/// - Thread-safe; inside an actor, self().stop() stops the actor itself.
template <class T>
void stop(const actor<T>& a) {
  auto& r = detail::handle_access::ref(a);
  if (!r)
    detail::throw_empty_handle();
  detail::request_stop(*r);
}

/// Stops a monitor; its callback will not run.
template <class T>
void demonitor(const actor<T>& a, std::uint64_t id) noexcept {
  detail::unwatch(*detail::handle_access::ref(a), id);
}

/// Links two actors, as Erlang does: when one stops for any reason but a
/// normal stop, the other stops too (down_reason::kind::linked), unless it
/// traps exits (self().trap_exit), in which case its handler runs.
/// Works across processes.
template <class A, class B>
void link(const actor<A>& a, const actor<B>& b) {
  detail::link_refs(*detail::handle_access::ref(a), *detail::handle_access::ref(b));
}

/// Registers `a` under `name` in the machine-wide registry, served by the
/// root node of this program. The name goes away when the actor stops.
/// - Throws: errc::bad_argument if the name is taken by a live actor.
template <class T>
void register_actor(const std::string& name, const actor<T>& a) {
  detail::registry_put(name, detail::handle_access::ref(a)->address);
}

/// Removes a name from the registry (nothing happens if it is not there).
inline void unregister_actor(const std::string& name) {
  detail::registry_erase(name);
}

/// The actor registered as `name`, or nullopt.
/// - Throws: errc::bad_argument if it is not an actor<T>.
template <class T>
std::optional<actor<T>> lookup(const std::string& name) {
  auto a = detail::registry_get(name);
  if (!a)
    return std::nullopt;
  detail::check_type(*a, typeid(T).name());
  return detail::handle_access::make<T>(detail::ref_for(std::move(*a)));
}

/// The actor registered as `name`, spawned (in a new child process of the
/// root node, with `args`) and registered if there is none. Free of races: when many processes
/// call it at once, exactly one actor is spawned and all get it.
/// - Throws: errc::bad_argument if the name holds another type; what spawn
///   throws; timeout_error if another caller's spawn takes over `timeout`.
template <class T, class... A>
actor<T> get_or_spawn(const std::string& name, A&&... args) {
  constexpr auto timeout = std::chrono::seconds(30);
  if (auto a = detail::registry_claim(name, timeout)) {
    detail::check_type(*a, typeid(T).name());
    return detail::handle_access::make<T>(detail::ref_for(std::move(*a)));
  }
  try {
    // A child of the root, so that it lives as long as the program, not
    // as long as the process that happened to claim the name.
    static_assert(detail::check_spawn<T, A...>());
    auto h = detail::handle_access::make<T>(detail::spawn_remote(
      detail::registry_endpoint(),
      reinterpret_cast<detail::any_fn>(&detail::spawn_child_here<T, detail::travel_t<A>...>),
      detail::encode(std::tuple<detail::travel_t<A>...>(std::forward<A>(args)...))));
    detail::registry_fulfil(name, &detail::handle_access::ref(h)->address);
    return h;
  } catch (...) {
    detail::registry_fulfil(name, nullptr);
    throw;
  }
}

} // namespace actors
