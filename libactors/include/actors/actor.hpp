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
/// in mailbox.hpp), in this process and across processes alike:
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

/// How many tells were dropped because their actor was gone.
std::uint64_t dropped_messages() noexcept;

} // namespace actors

// spawn() and the placements; it brings actor_context.hpp (self(), monitor,
// link), which needs both this handle and spawn().
#include <actors/spawn.hpp>
