#pragma once
/// @file detail/actor_spawn.hpp
/// What spawn()'s templates (actors/spawn.hpp) need: building an actor in a
/// new child, a spare process or another process's node, and the calls into
/// the actor runtime they make. Not API.

#include <actors/actor.hpp>

#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace actors::detail {

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
  // Reported before the actor runs: its first step may end the process.
  auto ref = spawn_cell(kind_of<T>(), obj, {}, who.mailbox, &who, [&](const actor_address& a) {
    report.send(a);
    report.close();
  });
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
/// The next actor id of this node (for an identity that must outlive restarts).
std::uint64_t reserve_actor_id();
/// A supervised child built in another node (supervisor::spawn(on_host)):
/// the arguments travel as (identity, tuple of constructor arguments). An
/// identity without an id gets one of this node's, restartable; a restart
/// brings the id the first start got, so the child keeps its address.
template <class T, class... D>
std::shared_ptr<actor_ref> spawn_identified_here(const char* data, std::size_t size) {
  auto [who, args] = decode<std::tuple<cell_identity, std::tuple<D...>>>(data, size);
  if (who.id == 0)
    who.id = reserve_actor_id();
  who.endpoint.clear(); // this node's own
  T* obj = std::apply([](auto&... a) { return new T(std::move(a)...); }, args);
  return spawn_cell(kind_of<T>(), obj, {}, who.mailbox, &who);
}
std::shared_ptr<actor_ref> spawn_remote(const std::string& endpoint, any_fn spawner,
                                        std::string args);
/// Where to reach the actor transport of process `p`; waits (up to 30 s) for
/// a child that has not yet offered it. Throws as spawn(in_process_of).
std::string endpoint_of(const process& p);
/// The endpoint of the node of cluster host `name` (io/route.hpp): its
/// gateway resolves it. Throws errc::bad_argument outside a cluster, and
/// errc::host_unreachable for a host it does not know.
std::string host_endpoint(const std::string& name);

/// How a constructor argument travels to another process: decayed, and a
/// C string as std::string (a pointer would not mean anything there).
template <class A>
using travel_t = std::conditional_t<std::is_same_v<std::decay_t<A>, const char*>
                                      || std::is_same_v<std::decay_t<A>, char*>,
                                    std::string, std::decay_t<A>>;

/// Starts a daemon child process that builds a T from `args` as actor
/// `who` and serves it; returns its handle once it runs.
template <class T, class... D>
std::shared_ptr<actor_ref> spawn_process(const std::optional<start_method>& method,
                                         cell_identity who, std::tuple<D...> args) {
  start_actor_runtime(); // the child learns our endpoint: we can tell why it ends
  auto [mine, theirs] = pipe<actor_address>(false);
  // Named by this node, like its local actors: counter-1, counter-2...
  if (who.name.empty())
    who.name = next_name(kind_of<T>());
  std::vector<int> fds; // borrowed from `args`
  auto bytes = encode(args, &fds);
  if (auto ref = spawn_in_spare(method, reinterpret_cast<any_fn>(&host_encoded<T, D...>),
                                who, bytes, fds, typeid(T).name()))
    return ref;
  process p(&host_actor<T, D...>, theirs, who, std::move(args));
  p.daemon(true);
  p.name(who.name);
  if (method)
    p.method(*method);
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

} // namespace actors::detail
