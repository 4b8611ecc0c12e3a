#pragma once
/// @file spawn.hpp
/// Making actors: spawn<T>(), the placements that say where an actor runs
/// (in_this_process, in_new_process, in_process_of, on_host, each with an optional
/// bounded mailbox) and the spare processes that make spawning into a new
/// process cost about an ask. The handle spawn() returns is in actor.hpp.
///
/// @code
/// auto a = actors::spawn<counter>(10);                                // this process
/// auto b = actors::spawn<counter>(actors::in_new_process, 10);        // a child of its own
/// auto c = actors::spawn<counter>(actors::in_process_of(b), 0);       // beside b
/// auto d = actors::spawn<counter>(actors::in_new_process.mailbox(100), 0);
/// @endcode

#include <actors/actor.hpp>
#include <actors/detail/actor_spawn.hpp>

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace actors {

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

/// Tells spawn() to build the actor on another host of the cluster
/// (cluster.hpp), in the node of that host: the process that joined, or the
/// root. Arguments are serialized as for in_new_process.
/// `on_host(h).mailbox(n)` bounds its mailbox.
struct on_host : detail::with_mailbox<on_host> {
  explicit on_host(std::string host) : name(std::move(host)) {}
  std::string name;
};

namespace detail {
template <class... A>
struct first_is_placement : std::false_type {};
template <class F, class... A>
struct first_is_placement<F, A...>
  : std::bool_constant<std::is_same_v<std::decay_t<F>, in_this_process_t>
                       || std::is_same_v<std::decay_t<F>, in_new_process_t>
                       || std::is_same_v<std::decay_t<F>, in_process_of>
                       || std::is_same_v<std::decay_t<F>, on_host>> {};
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
      where.method, detail::cell_identity{{}, 0, {}, where.box, {}, 0},
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

/// Spawns an actor of class T on another host of the cluster (see on_host).
/// - Blocks: for one round trip to that host.
/// - Throws: errc::host_unreachable if no host of that name is in the
///   cluster or its link is down; remote_error if T's constructor threw
///   there; errc::bad_argument outside a cluster.
template <class T, class... A>
actor<T> spawn(const on_host& where, A&&... args) {
  if constexpr (detail::check_spawn<T, A...>()) {
    return detail::handle_access::make<T>(detail::spawn_remote(
      detail::host_endpoint(where.name), reinterpret_cast<detail::any_fn>(&detail::spawn_here<T, detail::travel_t<A>...>),
      detail::encode_across_hosts(std::make_tuple(
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

} // namespace actors

#include <actors/actor_context.hpp>
