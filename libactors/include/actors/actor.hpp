#pragma once
/// @file actor.hpp
/// Actors: objects whose methods are their messages, each running one
/// message at a time on the node's CAF actor system, in this process or in
/// any other process of the machine.
///
/// @code
/// struct counter {
///   int n = 0;
///   explicit counter(int start) : n(start) {}
///   int add(int k) { return n += k; }
///   int get() const { return n; }
/// };
///
/// int main() {
///   actors::node node;
///   auto c = actors::spawn<counter>(actors::in_new_process, 10);
///   c.tell(&counter::add, 5);                             // one-way
///   actors::future<int> f = c.ask(&counter::get);         // request/response
///   std::cout << f.get(std::chrono::seconds(1)) << '\n';  // 15
/// }
/// @endcode
///
/// Messages from one sender arrive in the order they were sent. A method
/// that throws fails that ask's future with remote_error (naming the actor,
/// its pid and the method) and the actor goes on; a method run for a tell
/// that throws stops the actor (nobody else would hear of it), and its
/// monitors see down_reason::kind::exception.
///
/// A mailbox is unbounded unless the placement bounds it; then a sender
/// that finds it full waits for room or gets queue_full (mailbox_options,
/// in detail/actor_core.hpp), in this process and across processes alike:
/// @code
/// auto w = actors::spawn<worker>(actors::in_new_process.mailbox(1000));  // tell waits
/// auto v = actors::spawn<worker>(actors::in_this_process.mailbox(100, actors::on_full::fail));
/// if (!v.try_tell(&worker::run, job)) { /* full: try later */ }
/// @endcode

#include <actors/detail/actor_core.hpp>
#include <actors/future.hpp>
#include <actors/pipe.hpp>
#include <actors/process.hpp>
#include <actors/time.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace actors {

template <class T>
class actor;

namespace detail {

struct handle_access {
  template <class T>
  static const std::shared_ptr<actor_ref>& ref(const actor<T>& a) noexcept {
    return a.ref_;
  }
  template <class T>
  static actor<T> make(std::shared_ptr<actor_ref> r) {
    return actor<T>(std::move(r));
  }
};

template <class Tuple, std::size_t... Is>
constexpr bool each_serializable(std::index_sequence<Is...>) {
  return (is_serializable_v<std::tuple_element_t<Is, Tuple>> && ...);
}
template <class Tuple>
inline constexpr bool tuple_serializable_v
  = each_serializable<Tuple>(std::make_index_sequence<std::tuple_size_v<Tuple>>{});

template <class T, class M, class... A>
constexpr bool check_call() {
  static_assert(std::is_member_function_pointer_v<M>,
                "actors::actor<T>: the first argument of tell/ask must be a method of T, "
                "such as &T::name");
  if constexpr (std::is_member_function_pointer_v<M>) {
    using traits = method_traits<M>;
    static_assert(std::is_base_of_v<typename traits::owner, T>,
                  "actors::actor<T>: this method belongs to another class than the actor's");
    static_assert(traits::arity == sizeof...(A),
                  "actors::actor<T>: the number of arguments does not match the method's "
                  "parameters");
    if constexpr (traits::arity == sizeof...(A)) {
      using args = typename traits::args;
      static_assert(std::is_constructible_v<args, A&&...>,
                    "actors::actor<T>: an argument cannot be converted to the matching "
                    "parameter type of the method");
      static_assert(tuple_serializable_v<args>,
                    "actors::actor<T>: a parameter type of the method is not serializable "
                    "with Cereal. Give it a serialize(Archive&) member, or include the "
                    "matching <cereal/types/...> header");
      using R = stored_t<ask_result_t<M>>;
      static_assert(is_serializable_v<R>,
                    "actors::actor<T>: the method's result type is not serializable with "
                    "Cereal. Give it a serialize(Archive&) member, or include the matching "
                    "<cereal/types/...> header");
      return std::is_base_of_v<typename traits::owner, T> && std::is_constructible_v<args, A&&...>
             && tuple_serializable_v<args> && is_serializable_v<R>;
    }
  }
  return false;
}

[[noreturn]] void throw_empty_handle();

} // namespace detail

/// A handle to an actor of class T: typed, copyable, comparable, and
/// serializable with Cereal, so it travels as a process argument, through
/// queues and pipes, inside messages and pool tasks, and works wherever it
/// arrives on the machine. It owns no descriptor and does not keep the
/// actor alive.
/// - Blocks: not for an unbounded mailbox (ask returns a future; tell may
///   wait while the connection's socket is full). A bounded mailbox with
///   on_full::block makes tell and ask wait for room, up to its timeout.
/// - Throws: errc::bad_argument for an empty handle, errc::frame_too_large
///   for arguments over the frame cap, queue_full from tell when a bounded
///   mailbox has no room (see mailbox_options). A dead actor is no
///   exception: tell is dropped and counted (dropped_messages()), ask fails
///   its future with actor_died, which says why the actor stopped.
/// - Thread-safe.
template <class T>
class actor {
public:
  /// An empty handle; assign a spawned one to it.
  actor() = default;

  /// Sends a one-way message: runs method `m` on the actor with `args`.
  /// - Blocks: when the actor's mailbox is bounded (mailbox_options) and
  ///   full with on_full::block, until there is room or the timeout.
  /// - Throws: queue_full when the bounded mailbox stays full (on_full::fail
  ///   at once, on_full::block after its timeout); nothing was sent.
  template <class M, class... A>
  void tell(M m, A&&... args) const {
    auto why = post_call(false, m, std::forward<A>(args)...);
    if (why != detail::refusal::none)
      detail::throw_mailbox_full(ref().address, why);
  }

  /// Sends like tell() if the actor's mailbox has room now; false, with
  /// nothing sent, when its bounded mailbox is full. Never waits for room
  /// and never throws queue_full (Python's put_nowait). Always true for an
  /// unbounded mailbox.
  template <class M, class... A>
  bool try_tell(M m, A&&... args) const {
    return post_call(true, m, std::forward<A>(args)...) == detail::refusal::none;
  }

  /// Sends a request: runs method `m` on the actor with `args`; the future
  /// holds its result (none_t for void: the method has run). A method that
  /// returns promise<R> answers later, when the promise is fulfilled.
  /// An ask takes a place in a bounded mailbox like a tell: with
  /// on_full::block it waits for room first; when it gets none, the
  /// returned future has failed with queue_full (ask never throws it).
  template <class M, class... A>
  future<detail::ask_result_t<M>> ask(M m, A&&... args) const {
    using R = detail::ask_result_t<M>;
    auto st = std::make_shared<detail::result_state<R>>();
    if constexpr (detail::check_call<T, M, A...>()) {
      using tuple = typename detail::method_traits<M>::args;
      auto& r = ref();
      if (auto* cell = detail::live_local(r)) {
        if (auto why = detail::enter_mailbox(*cell, false); why != detail::refusal::none)
          st->fail(0, detail::mailbox_full_error(r.address, why));
        else
          detail::post_local(*cell, std::make_shared<detail::local_call<T, M, tuple>>(
                                      m, tuple(std::forward<A>(args)...), st, *cell),
                             true);
      } else {
        tuple t(std::forward<A>(args)...);
        detail::send_remote(r, detail::call_header_for<T, M>(m), &detail::write_args<tuple>, &t,
                            st);
      }
    }
    return future<R>(st);
  }

  /// The bound of the actor's mailbox (capacity 0: unbounded).
  const mailbox_options& mailbox() const { return ref().address.mailbox; }
  /// The actor's name ("counter-3"), unique in its node.
  const std::string& name() const { return ref().address.name; }
  /// The pid of the process it lives in.
  int pid() const { return ref().address.pid; }
  /// True unless the handle is empty (says nothing about the actor's life).
  explicit operator bool() const noexcept { return ref_ != nullptr; }

  friend bool operator==(const actor& a, const actor& b) noexcept {
    if (!a.ref_ || !b.ref_)
      return a.ref_ == b.ref_;
    return a.ref_->address.id == b.ref_->address.id
           && a.ref_->address.endpoint == b.ref_->address.endpoint;
  }
  friend bool operator!=(const actor& a, const actor& b) noexcept { return !(a == b); }
  friend bool operator<(const actor& a, const actor& b) noexcept {
    if (!a.ref_ || !b.ref_)
      return a.ref_ < b.ref_;
    return std::tie(a.ref_->address.endpoint, a.ref_->address.id)
           < std::tie(b.ref_->address.endpoint, b.ref_->address.id);
  }

  template <class Archive>
  void save(Archive& ar) const {
    ar(ref().address);
  }
  template <class Archive>
  void load(Archive& ar) {
    detail::actor_address a;
    ar(a);
    if (a.type != typeid(T).name())
      throw error(errc::bad_payload, "an actor handle of type " + detail::type_name(a.type.c_str())
                                       + " arrived where actor<"
                                       + detail::type_name(typeid(T).name()) + "> was expected");
    ref_ = detail::ref_for(std::move(a));
  }

private:
  friend struct detail::handle_access;
  explicit actor(std::shared_ptr<detail::actor_ref> r) : ref_(std::move(r)) {}

  // A tell, here or in another process: refusal::none once it is sent.
  template <class M, class... A>
  detail::refusal post_call(bool nowait, M m, A&&... args) const {
    if constexpr (detail::check_call<T, M, A...>()) {
      using tuple = typename detail::method_traits<M>::args;
      auto& r = ref();
      if (auto* cell = detail::live_local(r)) {
        if (auto why = detail::enter_mailbox(*cell, nowait); why != detail::refusal::none)
          return why;
        detail::post_local(*cell, std::make_shared<detail::local_call<T, M, tuple>>(
                                    m, tuple(std::forward<A>(args)...), nullptr, *cell),
                           true);
        return detail::refusal::none;
      }
      tuple t(std::forward<A>(args)...);
      return detail::send_remote(r, detail::call_header_for<T, M>(m), &detail::write_args<tuple>,
                                 &t, nullptr, nowait);
    }
    return detail::refusal::none;
  }
  detail::actor_ref& ref() const {
    if (!ref_)
      detail::throw_empty_handle();
    return *ref_;
  }
  std::shared_ptr<detail::actor_ref> ref_;
};

namespace detail {
// `.mailbox(...)` on a placement: the same placement, with a bounded mailbox.
template <class Placement>
struct with_mailbox {
  /// The actor gets a mailbox of `capacity` messages; when it is full,
  /// senders wait up to `timeout` (on_full::block) or fail at once
  /// (on_full::fail) with queue_full.
  Placement mailbox(std::uint32_t capacity, on_full when_full = on_full::block,
                    duration timeout = forever) const {
    return mailbox(mailbox_options{capacity, when_full, timeout});
  }
  Placement mailbox(const mailbox_options& o) const {
    Placement p = static_cast<const Placement&>(*this);
    p.box = o;
    return p;
  }
  mailbox_options box; // unbounded unless set
};
} // namespace detail

/// Tells spawn() to build the actor in this process (the default);
/// `in_this_process.mailbox(n)` bounds its mailbox (mailbox_options).
struct in_this_process_t : detail::with_mailbox<in_this_process_t> {
  explicit constexpr in_this_process_t() = default;
};
inline constexpr in_this_process_t in_this_process{};

/// Tells spawn() to build the actor in a new OS process of its own, a
/// daemon child of this one; `in_new_process(start_method::spawn)` picks
/// the start method. The process ends when its actor, and every actor
/// spawned into it later (in_process_of), has stopped.
/// `in_new_process.mailbox(n)` bounds its mailbox (mailbox_options).
struct in_new_process_t : detail::with_mailbox<in_new_process_t> {
  std::optional<start_method> method;
  in_new_process_t operator()(start_method m) const {
    auto p = *this;
    p.method = m;
    return p;
  }
};
inline const in_new_process_t in_new_process{};

/// Tells spawn() to build the actor in an existing process: the one where
/// the actor `other` lives, or the process `p` (a started child of this one,
/// current_process(), or parent_process()).
/// - A child hosts actors when this program used actors before starting it
///   (actors::system() or any spawn was called): it then runs the actor
///   transport (two threads; CAF's own start with its first actor) and tells
///   this node where to reach it. Pool workers and manager processes never
///   host actors.
/// - The actors spawned into a child run beside its target function; they
///   stop, with reason "its node stopped", when the target returns.
/// - `in_process_of(h).mailbox(n)` bounds the new actor's mailbox.
struct in_process_of : detail::with_mailbox<in_process_of> {
  template <class U>
  explicit in_process_of(const actor<U>& other)
    : endpoint(detail::handle_access::ref(other) ? detail::handle_access::ref(other)->address.endpoint.str()
                                                 : std::string()) {}
  explicit in_process_of(const process& p) : proc(p) {}
  std::string endpoint;
  std::optional<process> proc;
};

namespace detail {

template <class T, class... D>
void host_actor(connection<actor_address> report, cell_identity who, std::tuple<D...> args);

/// Starts this node's transport and actor runtime (idempotent).
void start_actor_runtime();
/// Waits until the actor of `ref` stops; returns its process's exit code.
int serve_until_stopped(actor_ref& ref);
/// Reports a constructor that threw to the parent, as an address with id 0.
void report_construction_failure(connection<actor_address>& report);
/// Reads the child's report; throws if it failed or died.
std::shared_ptr<actor_ref> await_report(connection<actor_address>& report, process& p,
                                        const char* type);

template <class T, class... D>
void host_actor(connection<actor_address> report, cell_identity who, std::tuple<D...> args) {
  T* obj = nullptr;
  try {
    obj = std::apply([](auto&... a) { return new T(std::move(a)...); }, args);
  } catch (...) {
    report_construction_failure(report);
    throw;
  }
  auto ref = spawn_cell(kind_of<T>(), obj, {}, who.mailbox, &who);
  report.send(ref->address);
  report.close();
  throw system_exit(serve_until_stopped(*ref));
}

/// Runs in a spare process (see set_spare_processes): decodes T's
/// constructor arguments and hosts the actor as host_actor does.
template <class T, class... D>
void host_encoded(connection<actor_address> report, cell_identity who, const std::string& data,
                  std::vector<int>* fds) {
  auto args = [&] {
    try {
      return decode<std::tuple<D...>>(data, fds);
    } catch (...) {
      report_construction_failure(report);
      throw;
    }
  }();
  host_actor<T, D...>(std::move(report), std::move(who), std::move(args));
}
using spare_host_fn = void (*)(connection<actor_address>, cell_identity, const std::string&,
                               std::vector<int>*);

/// Builds the actor in one of this node's spare processes, when one is
/// ready for `method` (host is a host_encoded<T, D...>; `args` its encoded
/// arguments, which carry the descriptors `fds`, borrowed); nullptr when
/// none is (the caller starts a process). Either way the node makes a new
/// spare in the background. Throws as await_report.
std::shared_ptr<actor_ref> spawn_in_spare(const std::optional<start_method>& method, any_fn host,
                                          const cell_identity& who, const std::string& args,
                                          const std::vector<int>& fds, const char* type);

/// Waits until the node has as many spares ready as set_spare_processes
/// asks; false after `timeout`, or at once when it makes none.
bool await_spares(duration timeout);
/// The pids of the spares ready now (for tests).
std::vector<int> spare_pids();
/// How many actors of this process have not finished stopping (for tests
/// and benchmarks). Thread-safe.
std::size_t live_actor_count();

/// Builds a T in another process's node from encoded arguments (runs there).
using remote_spawner = std::shared_ptr<actor_ref> (*)(const char* data, std::size_t size);
/// The arguments travel as (mailbox_options, tuple of constructor arguments).
template <class T, class... D>
std::shared_ptr<actor_ref> spawn_here(const char* data, std::size_t size) {
  auto [mailbox, args] = decode<std::tuple<mailbox_options, std::tuple<D...>>>(data, size);
  T* obj = std::apply([](auto&... a) { return new T(std::move(a)...); }, args);
  return spawn_cell(kind_of<T>(), obj, {}, mailbox);
}
std::shared_ptr<actor_ref> spawn_remote(const std::string& endpoint, any_fn spawner,
                                        std::string args);
/// Where to reach the actor transport of process `p`; waits (up to 30 s) for
/// a child that has not yet offered it. Throws as spawn(in_process_of).
std::string endpoint_of(const process& p);

/// How a constructor argument travels to another process: decayed, and a
/// C string as std::string (a pointer would not mean anything there).
template <class A>
using travel_t = std::conditional_t<std::is_same_v<std::decay_t<A>, const char*>
                                      || std::is_same_v<std::decay_t<A>, char*>,
                                    std::string, std::decay_t<A>>;

/// Starts a daemon child process that builds a T from `args` as actor
/// `who` and serves it; returns its handle once it runs.
template <class T, class... D>
std::shared_ptr<actor_ref> spawn_process(const in_new_process_t& where, cell_identity who,
                                         std::tuple<D...> args) {
  start_actor_runtime(); // the child learns our endpoint: we can tell why it ends
  auto [mine, theirs] = pipe<actor_address>(false);
  // Named by this node, like its local actors: counter-1, counter-2...
  if (who.name.empty())
    who.name = next_name(kind_of<T>());
  std::vector<int> fds; // borrowed from `args`
  auto bytes = encode(args, &fds);
  if (auto ref = spawn_in_spare(where.method, reinterpret_cast<any_fn>(&host_encoded<T, D...>),
                                who, bytes, fds, typeid(T).name()))
    return ref;
  process p(&host_actor<T, D...>, theirs, who, std::move(args));
  p.daemon(true);
  p.name(who.name);
  if (where.method)
    p.method(*where.method);
  p.start();
  theirs.close(); // the child has its own copy now
  return await_report(mine, p, typeid(T).name());
}

template <class T, class... A>
constexpr bool check_spawn() {
  static_assert(std::is_constructible_v<T, detail::travel_t<A>&&...>,
                "actors::spawn<T>: T has no constructor that takes these arguments");
  static_assert(tuple_serializable_v<std::tuple<detail::travel_t<A>...>>,
                "actors::spawn<T>: a constructor argument is not serializable with Cereal, "
                "so it cannot travel to another process. Give it a serialize(Archive&) "
                "member, or include the matching <cereal/types/...> header");
  return std::is_constructible_v<T, detail::travel_t<A>&&...>
         && tuple_serializable_v<std::tuple<detail::travel_t<A>...>>;
}

} // namespace detail

/// Spawns an actor of class T in this process: `T(args...)` is built at
/// once (arguments are moved, never serialized) and runs on the node's
/// actor system. If T has `void on_start()`, it runs first, on the actor;
/// `void on_stop()` runs when it stops.
/// - Throws: what T's constructor throws; errc::no_node.
template <class T, class... A>
actor<T> spawn(const in_this_process_t& where, A&&... args) {
  static_assert(std::is_constructible_v<T, A&&...>,
                "actors::spawn<T>: T has no constructor that takes these arguments");
  auto* obj = new T(std::forward<A>(args)...);
  return detail::handle_access::make<T>(
    detail::spawn_cell(detail::kind_of<T>(), obj, {}, where.box));
}

namespace detail {
template <class... A>
struct first_is_placement : std::false_type {};
template <class F, class... A>
struct first_is_placement<F, A...>
  : std::bool_constant<std::is_same_v<std::decay_t<F>, in_this_process_t>
                       || std::is_same_v<std::decay_t<F>, in_new_process_t>
                       || std::is_same_v<std::decay_t<F>, in_process_of>> {};
} // namespace detail

/// Same as spawn(in_this_process, args...).
template <class T, class... A, class = std::enable_if_t<!detail::first_is_placement<A...>::value>>
actor<T> spawn(A&&... args) {
  return spawn<T>(in_this_process, std::forward<A>(args)...);
}

/// Spawns an actor of class T in a new OS process (a daemon child of this
/// one, started like actors::process with any start method). The
/// arguments are serialized with Cereal; T's code is found in the child
/// without registration, as a process target is.
/// - Blocks: until the child has built the actor (about a millisecond).
/// - Throws: remote_error if T's constructor threw in the child; the
///   errors of process::start().
template <class T, class... A>
actor<T> spawn(const in_new_process_t& where, A&&... args) {
  if constexpr (detail::check_spawn<T, A...>()) {
    return detail::handle_access::make<T>(detail::spawn_process<T>(
      where, detail::cell_identity{{}, 0, {}, where.box, {}, 0},
      std::tuple<detail::travel_t<A>...>(std::forward<A>(args)...)));
  }
  return {};
}

/// Spawns an actor of class T in an existing process (see in_process_of).
/// Arguments are serialized as for in_new_process.
/// - Blocks: for one round trip to that process; for a child just started,
///   until it has offered to host actors (milliseconds).
/// - Throws: remote_error if T's constructor threw there; actor_died if
///   the process of `other` is gone; for a process handle, errc::eof if it
///   has exited, errc::not_started, and errc::bad_argument if it does not
///   host actors (started before this program used actors, or a pool worker).
template <class T, class... A>
actor<T> spawn(const in_process_of& where, A&&... args) {
  if constexpr (detail::check_spawn<T, A...>()) {
    return detail::handle_access::make<T>(detail::spawn_remote(
      where.proc ? detail::endpoint_of(*where.proc) : where.endpoint, reinterpret_cast<detail::any_fn>(&detail::spawn_here<T, detail::travel_t<A>...>),
      detail::encode(std::make_tuple(
        where.box, std::tuple<detail::travel_t<A>...>(std::forward<A>(args)...)))));
  }
  return {};
}

/// How many started, idle processes this node keeps ready for
/// spawn(in_new_process), actor pools and supervisor restarts (default 1).
/// Starting a process and its actor runtime takes milliseconds; taking a
/// spare takes one message, so a spawn or a restart costs about as much as
/// an ask. Without a call, the first spare is made after the first spawn
/// in a new process (a program that never spawns one has none); a call
/// starts making them at once. A new one is made in the background each
/// time one is taken.
/// - A spare starts like any child with the same start method; the start
///   method `fork` never uses one (its child must copy the parent as it is
///   at the spawn). A spare takes the log settings, the default start method
///   and the name in force when it is taken.
/// - active_children() does not list spares; they are terminated, as
///   daemons are, when the node stops. 0 stops keeping any.
/// - Throws errc::bad_argument for n < 0 or n > 64; errc::no_node.
///   Thread-safe.
void set_spare_processes(int n);

/// How many tells were dropped because their actor was gone.
std::uint64_t dropped_messages() noexcept;

} // namespace actors

#include <actors/actor_context.hpp>
