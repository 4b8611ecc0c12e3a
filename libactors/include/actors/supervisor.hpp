#pragma once
/// @file supervisor.hpp
/// Supervision trees, as in Erlang/OTP, over OS processes: a supervisor
/// starts actors (in its own process or each in a process of its own),
/// watches them, and restarts them by a strategy when they fail.
///
/// @code
/// actors::node node;
/// actors::supervisor sup(actors::supervisor_options()
///                          .strategy(actors::strategy::one_for_one)
///                          .intensity(3, std::chrono::seconds(5)));
/// auto db = sup.spawn<store>(actors::in_new_process, actors::child_spec("db"));
/// db.tell(&store::put, std::string("k"), 1);
/// // kill -9 the db's process: the supervisor starts a new one, and the
/// // same handle reaches it (asks in flight at the kill fail with actor_died).
/// @endcode
///
/// A restarted child starts again from its constructor arguments: what it
/// must keep across restarts belongs outside it (a managed dict, a file it
/// saves snapshots to, or an actor that is not restarted with it). See
/// docs/actors.md, "Supervision".

#include <actors/actor_context.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace actors {

/// Which children a supervisor restarts when one fails (OTP's strategies).
enum class strategy {
  one_for_one,  ///< only the failed child
  one_for_all,  ///< every child: the others are stopped (last started first), then all start again
  rest_for_one, ///< the failed child and the ones started after it
};

/// When a stopped child is restarted (OTP's restart types).
enum class restart {
  permanent, ///< always
  transient, ///< only after an abnormal stop (not self().stop() or its supervisor's)
  temporary, ///< never: it leaves the supervisor when it stops
};

/// The names used in logs, docs and topology files: "one_for_one"...
const char* to_string(strategy s) noexcept;
/// "permanent", "transient" or "temporary".
const char* to_string(restart r) noexcept;

/// A supervisor's strategy and restart limit.
class supervisor_options {
public:
  /// Default: one_for_one.
  supervisor_options& strategy(actors::strategy s) {
    strategy_ = s;
    return *this;
  }
  /// At most `restarts` restarts within `period` (default OTP's: 1 in 5 s).
  /// One more, and the supervisor stops its children (last started first),
  /// then itself with errc::restart_limit: its own supervisor sees that as
  /// a failure of its child. The supervisor throws errc::bad_argument for
  /// restarts < 0 or a period <= 0.
  supervisor_options& intensity(int restarts, duration period) {
    intensity_ = restarts;
    period_ = period;
    return *this;
  }
  /// Its name, in logs and tools (default "supervisor-N").
  supervisor_options& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }

  actors::strategy get_strategy() const noexcept { return strategy_; }
  int get_intensity() const noexcept { return intensity_; }
  duration get_period() const noexcept { return period_; }
  const std::string& get_name() const noexcept { return name_; }

private:
  actors::strategy strategy_ = actors::strategy::one_for_one;
  int intensity_ = 1;
  duration period_ = std::chrono::seconds(5);
  std::string name_;
};

/// How a supervisor runs one child: its id, restart type and grace period.
class child_spec {
public:
  child_spec() = default;
  /// `id` names the child (its actor's name, kept across restarts); empty:
  /// the node names it ("counter-3"). Unique within its supervisor.
  explicit child_spec(std::string id) : id_(std::move(id)) {}
  /// Default: permanent.
  child_spec& restart(actors::restart r) {
    restart_ = r;
    return *this;
  }
  /// How long a stop waits for the child (default 5 s; a nested supervisor:
  /// until its whole subtree has stopped). A child in its own process that
  /// overruns it is killed (SIGKILL); one in the supervisor's process is left
  /// to finish its message, logged, and counted as stopped.
  child_spec& shutdown(duration grace) {
    grace_ = grace;
    return *this;
  }

  /// A bounded mailbox for every instance (see actor.hpp; default unbounded).
  child_spec& mailbox(std::uint32_t capacity, on_full when_full = on_full::block,
                      duration timeout = forever) {
    box_ = mailbox_options{capacity, when_full, timeout};
    return *this;
  }

  const std::string& id() const noexcept { return id_; }
  actors::restart get_restart() const noexcept { return restart_; }
  std::optional<duration> get_shutdown() const noexcept { return grace_; }
  const mailbox_options& get_mailbox() const noexcept { return box_; }

private:
  std::string id_;
  mailbox_options box_;
  actors::restart restart_ = actors::restart::permanent;
  std::optional<duration> grace_;
};

/// One child as supervisor::children() reports it.
struct child_info {
  std::string id;            ///< its name
  std::string type;          ///< its class ("counter"), or "supervisor"
  int pid = 0;               ///< the process it runs in now (0 while it does not run)
  bool running = false;
  bool own_process = false;  ///< in a process of its own
  actors::restart restart = actors::restart::permanent;
  std::uint32_t restarts = 0; ///< how often it was restarted
  std::optional<down_reason> last_exit; ///< why it stopped last, if it did
};

class supervisor;

namespace detail {

struct supervisor_shared; // src/actor/supervisor.cpp

/// Builds one instance of a child as actor `who`.
using child_starter = std::function<std::shared_ptr<actor_ref>(const cell_identity&)>;

struct child_def {
  child_spec spec;
  std::string type;       // typeid(T).name(), or empty for a supervisor
  bool own_process = false;
  child_starter start;
  std::shared_ptr<supervisor_shared> nested; // a supervisor child
};

std::shared_ptr<supervisor_shared> make_supervisor(supervisor_options o);
std::shared_ptr<supervisor_shared> make_nested(supervisor_options o);
/// Adds and starts a child; blocks until it runs. Throws what its start throws.
std::shared_ptr<actor_ref> supervisor_add(supervisor_shared& s, child_def def);
std::vector<child_info> supervisor_children(supervisor_shared& s);
std::uint64_t supervisor_restarts(supervisor_shared& s);
const std::string& supervisor_name(supervisor_shared& s);
bool supervisor_running(supervisor_shared& s);
void supervisor_stop(supervisor_shared& s);
std::optional<down_reason> supervisor_join(supervisor_shared& s, duration timeout);
/// Runs `fn` after `d` on the supervisor's actor (its timers); at once if
/// it has stopped. For actor_pool's retries, which back off.
void supervisor_after(supervisor_shared& s, duration d, std::function<void()> fn);

struct supervisor_access {
  static supervisor_shared& of(const supervisor& s);
};

template <class Tuple>
constexpr bool copyable_args() {
  static_assert(std::is_copy_constructible_v<Tuple>,
                "actors::supervisor::spawn: a restarted child starts again from copies of its "
                "constructor arguments, so each argument must be copyable");
  return std::is_copy_constructible_v<Tuple>;
}

} // namespace detail

/// A supervisor: an actor of this process that starts children, watches
/// them and restarts them by its strategy. Copies are handles to the same
/// supervisor; dropping them does not stop it (stop() does, and so does
/// the node's end).
/// - Blocks: spawn() and supervise() until the child runs; stop() until
///   the children have stopped.
/// - Thread-safe. Not serializable: it lives in the process that made it
///   (its children's handles travel anywhere).
class supervisor {
public:
  /// Starts a supervisor without children.
  /// - Throws: errc::bad_argument for a bad intensity; errc::no_node.
  explicit supervisor(supervisor_options o = {}) : s_(detail::make_supervisor(std::move(o))) {}

  /// Starts a child actor T(args...) in this process, supervised. Restarts
  /// build a new T from copies of `args`. The handle stays valid across
  /// restarts: calls made after a restart reach the new instance; asks in
  /// flight when a child dies fail with actor_died.
  /// - Throws: what T's constructor throws (the child is then not added);
  ///   errc::bad_argument if the id is taken; actor_died if the supervisor
  ///   has stopped.
  template <class T, class... A>
  actor<T> spawn(const child_spec& spec, A&&... args) {
    return spawn<T>(in_this_process, spec, std::forward<A>(args)...);
  }
  template <class T, class... A>
  actor<T> spawn(in_this_process_t, const child_spec& spec, A&&... args) {
    using tuple = std::tuple<std::decay_t<A>...>;
    static_assert(std::is_constructible_v<T, const std::decay_t<A>&...>,
                  "actors::supervisor::spawn<T>: T has no constructor that takes these arguments");
    if constexpr (detail::copyable_args<tuple>()) {
      auto args_t = std::make_shared<const tuple>(std::forward<A>(args)...);
      detail::child_def d{named<T>(spec), typeid(T).name(), false, {}, nullptr};
      d.start = [args_t](const detail::cell_identity& who) {
        T* obj = std::apply([](const auto&... a) { return new T(a...); }, *args_t);
        return detail::spawn_cell(detail::kind_of<T>(), obj, {}, who.mailbox, &who);
      };
      return detail::handle_access::make<T>(detail::supervisor_add(*s_, std::move(d)));
    }
    return {};
  }
  /// Starts a child actor T(args...) in a new OS process of its own,
  /// supervised (arguments serialized as for actors::spawn). A restart
  /// starts a new process. Its handle works from any process, across
  /// restarts.
  /// - Throws: remote_error if T's constructor threw in the child; the
  ///   errors of process::start(); errc::bad_argument if the id is taken.
  template <class T, class... A>
  actor<T> spawn(const in_new_process_t& where, const child_spec& spec, A&&... args) {
    using tuple = std::tuple<detail::travel_t<A>...>;
    if constexpr (detail::check_spawn<T, A...>() && detail::copyable_args<tuple>()) {
      auto args_t = std::make_shared<const tuple>(std::forward<A>(args)...);
      detail::child_def d{named<T>(spec), typeid(T).name(), true, {}, nullptr};
      d.start = [args_t, where](const detail::cell_identity& who) {
        return detail::spawn_process<T>(where.method, who, *args_t);
      };
      return detail::handle_access::make<T>(detail::supervisor_add(*s_, std::move(d)));
    }
    return {};
  }

  /// Starts a child actor T(args...) in the node of another host of the
  /// cluster (see on_host), supervised; arguments are serialized as for
  /// actors::spawn. Its handle keeps working across restarts while that
  /// host's node runs (a restart takes the same actor id there). If the
  /// host is lost, the child's down counts as a failure, and so does each
  /// restart that cannot reach the host (errc::host_unreachable), until
  /// the restart limit stops the supervisor.
  /// - Throws: errc::host_unreachable, errc::bad_argument outside a
  ///   cluster; remote_error if T's constructor threw there; errc::bad_argument
  ///   if the id is taken.
  template <class T, class... A>
  actor<T> spawn(const on_host& where, const child_spec& spec, A&&... args) {
    using tuple = std::tuple<detail::travel_t<A>...>;
    if constexpr (detail::check_spawn<T, A...>() && detail::copyable_args<tuple>()) {
      auto args_t = std::make_shared<const tuple>(std::forward<A>(args)...);
      detail::child_def d{named<T>(spec), typeid(T).name(), false, {}, nullptr};
      auto id_there = std::make_shared<std::uint64_t>(0); // fixed by the first start
      d.start = [args_t, host = where.name, id_there](const detail::cell_identity& who) {
        auto there = who;
        there.id = *id_there;
        auto ref = detail::spawn_remote(
          detail::host_endpoint(host),
          reinterpret_cast<detail::any_fn>(&detail::spawn_identified_here<T, detail::travel_t<A>...>),
          detail::encode_across_hosts(std::make_tuple(there, *args_t)));
        *id_there = ref->address.id;
        return ref;
      };
      return detail::handle_access::make<T>(detail::supervisor_add(*s_, std::move(d)));
    }
    return {};
  }

  /// Starts a nested supervisor as a child of this one (in this process):
  /// a tree. Its children are added through the returned handle; when this
  /// supervisor restarts it, it starts all of them again.
  supervisor supervise(const child_spec& spec, supervisor_options o = {}) {
    if (o.get_name().empty() && !spec.id().empty())
      o.name(spec.id());
    auto nested = detail::make_nested(std::move(o));
    detail::child_def d{spec, {}, false, {}, nested};
    if (d.spec.id().empty())
      d.spec = child_spec(detail::supervisor_name(*nested)).restart(spec.get_restart());
    if (auto g = spec.get_shutdown())
      d.spec.shutdown(*g);
    detail::supervisor_add(*s_, std::move(d));
    return supervisor(nested);
  }

  /// Its children, in start order, with their pids, restarts and last exit.
  std::vector<child_info> children() const { return detail::supervisor_children(*s_); }
  /// Restarts it has made since it started.
  std::uint64_t restarts() const { return detail::supervisor_restarts(*s_); }
  /// Its name.
  const std::string& name() const { return detail::supervisor_name(*s_); }
  /// False once it has stopped (stop(), its restart limit, or the node's end).
  bool running() const { return detail::supervisor_running(*s_); }

  /// Ordered shutdown: stops its children, last started first, each within
  /// its grace period, then itself. Returns when done. A nested supervisor
  /// stopped this way stays stopped: its parent does not restart it.
  void stop() { detail::supervisor_stop(*s_); }

  /// Waits up to `timeout` for it to stop; then says why (normal after
  /// stop(), errc::restart_limit's text after it gave up), else nullopt.
  std::optional<down_reason> join(duration timeout) const {
    return detail::supervisor_join(*s_, timeout);
  }

  friend bool operator==(const supervisor& a, const supervisor& b) noexcept { return a.s_ == b.s_; }
  friend bool operator!=(const supervisor& a, const supervisor& b) noexcept { return a.s_ != b.s_; }

private:
  friend struct detail::supervisor_access;
  explicit supervisor(std::shared_ptr<detail::supervisor_shared> s) : s_(std::move(s)) {}
  template <class T>
  static child_spec named(const child_spec& spec) {
    if (!spec.id().empty())
      return spec;
    child_spec s(detail::next_name(detail::kind_of<T>()));
    s.restart(spec.get_restart());
    s.mailbox(spec.get_mailbox().capacity, spec.get_mailbox().when_full, spec.get_mailbox().timeout);
    if (auto g = spec.get_shutdown())
      s.shutdown(*g);
    return s;
  }
  std::shared_ptr<detail::supervisor_shared> s_;
};

namespace detail {
inline supervisor_shared& supervisor_access::of(const supervisor& s) {
  return *s.s_;
}
} // namespace detail

} // namespace actors
