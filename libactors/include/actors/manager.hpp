#pragma once
/// @file manager.hpp
/// `actors::manager`: Python's `multiprocessing.Manager()`. A server process
/// holds shared objects: dicts, lists, namespaces, locks, events and queues.
/// Other processes use them through proxies: small handles (an address and
/// an object id, no descriptors) that can be passed to children, sent
/// through queues and pipes, and given to pool tasks.
///
/// @code
/// void count(actors::managed_dict<std::string, int> d, std::string who) {
///   d.set(who, static_cast<int>(who.size()));
/// }
///
/// int main() {
///   actors::node node;
///   actors::manager mgr;
///   auto d = mgr.dict<std::string, int>();
///   actors::process p(count, d, "worker");
///   p.start();
///   p.join();
///   d.get("worker");   // 6
/// }
/// @endcode
///
/// Every call is one request to the manager and is atomic there. If the
/// manager process dies, every call (including one blocked in acquire() or
/// wait()) throws eof_error at once, naming the manager's pid; nothing hangs
/// and nothing is logged per call.

#include <actors/detail/managed.hpp>
#include <actors/managed.hpp>
#include <actors/queue.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace actors {


/// Starts a manager process and makes objects in it.
/// - Blocks: the constructor until the manager runs; shutdown() until it
///   exited.
/// - Throws: eof_error once the manager is gone; errc::no_node.
/// - The manager is a daemon child: it stops when this handle is destroyed,
///   at shutdown(), or when this process's node stops or dies.
class manager {
public:
  manager();
  ~manager();
  manager(const manager&) = delete;
  manager& operator=(const manager&) = delete;

  template <class K, class V>
  managed_dict<K, V> dict() {
    return managed_dict<K, V>(create(detail::mkind::dict));
  }
  template <class T>
  managed_list<T> list() {
    return managed_list<T>(create(detail::mkind::list));
  }
  managed_namespace namespace_() { return managed_namespace(create(detail::mkind::dict)); }
  managed_lock lock() { return managed_lock(create(detail::mkind::lock)); }
  managed_lock rlock() { return managed_lock(create(detail::mkind::rlock)); }
  managed_event event() { return managed_event(create(detail::mkind::event)); }
  /// A queue served by the manager process: it outlives the process that
  /// asked for it, and its handle travels like any queue.
  template <class T>
  actors::queue<T> queue(std::uint64_t maxsize = 0) {
    auto bytes = detail::manager_call({path_, 0, pid_}, detail::mop::queue,
                                      detail::args(maxsize))
                   .body;
    return detail::decode<actors::queue<T>>(bytes);
  }

  /// The manager's pid.
  int pid() const noexcept { return pid_; }
  /// Stops the manager process; proxies throw eof_error afterwards.
  void shutdown();

private:
  detail::managed_address create(detail::mkind kind);

  struct state;
  std::unique_ptr<state> state_;
  std::string path_;
  int pid_ = 0;
};

} // namespace actors
