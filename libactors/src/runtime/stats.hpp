#pragma once
// What a node tells actors-top through its control endpoint: its actors,
// children, queues (the typed mailboxes it serves), pools, threads and locks.
// The endpoint is the queue server's socket,
// /tmp/actors-<pid>-XXXXXX/node.sock, which a node opens with its first
// actor, queue, pool, thread or manager (ACTORS_CONTROL=on: when the node
// starts); a child that hosts actors opens its own with its first actor.
// Internal; used by actors-top.

#include <actors/time.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace actors::detail {

struct child_stats {
  std::string name;
  int pid = 0;
  bool alive = false;
  int exitcode = 0; // when not alive
  std::string method;
  bool daemon = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, pid, alive, exitcode, method, daemon);
  }
};

struct queue_stats {
  std::uint32_t id = 0;
  std::uint64_t items = 0, maxsize = 0, puts = 0, gets = 0;
  std::uint32_t waiting_getters = 0, waiting_putters = 0, connections = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, items, maxsize, puts, gets, waiting_getters, waiting_putters, connections);
  }
};

struct pool_stats {
  int size = 0;
  std::vector<int> workers;
  std::uint64_t queued = 0, running = 0, done = 0, restarts = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(size, workers, queued, running, done, restarts);
  }
};

struct thread_stats {
  std::string name;
  long tid = 0;
  bool alive = false, daemon = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, tid, alive, daemon);
  }
};

struct lock_stats {
  std::string kind; // "mutex" or "recursive_mutex"
  long holder_tid = 0; // 0: free
  int holder_pid = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(kind, holder_tid, holder_pid);
  }
};

struct actor_stats {
  std::string name;       // "counter-3"
  std::string type;       // its class, without namespaces: "counter"
  int pid = 0;
  std::uint32_t depth = 0;   // messages in its mailbox, not run yet
  std::uint64_t handled = 0; // messages run so far (a rate needs two samples)
  std::uint32_t restarts = 0;
  std::string supervisor;    // its supervisor's name; empty if none
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, type, pid, depth, handled, restarts, supervisor);
  }
};

struct node_stats {
  int pid = 0;
  std::string name;
  double uptime = 0;
  std::vector<child_stats> children;
  std::vector<queue_stats> queues;
  std::vector<pool_stats> pools;
  std::vector<thread_stats> threads;
  std::vector<lock_stats> locks;
  std::vector<actor_stats> actors;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(pid, name, uptime, children, queues, pools, threads, locks, actors);
  }
};

/// The transport's operation byte for a stats request (on a connection that
/// has not said hello to a queue).
constexpr std::uint8_t stats_request = 11;

/// What a module created, held weakly (the registry keeps nothing alive),
/// with a little extra per entry; how pools, threads and locks are found.
template <class T, class Extra = bool>
class weak_registry {
public:
  void add(const std::shared_ptr<T>& p, Extra extra = {}) {
    std::lock_guard<std::mutex> lock(mtx_);
    items_.push_back({p, extra});
  }
  /// Calls fn(T&, const Extra&) for each one still alive; forgets the rest.
  template <class F>
  void each(F&& fn) {
    std::lock_guard<std::mutex> lock(mtx_);
    std::vector<entry> live;
    for (auto& e : items_)
      if (auto p = e.ref.lock()) {
        fn(*p, e.extra);
        live.push_back(e);
      }
    items_ = std::move(live);
  }
  /// The ones still alive (the rest are forgotten), to use without the lock.
  std::vector<std::shared_ptr<T>> live() {
    std::vector<std::shared_ptr<T>> out;
    std::lock_guard<std::mutex> lock(mtx_);
    std::vector<entry> kept;
    for (auto& e : items_)
      if (auto p = e.ref.lock()) {
        out.push_back(std::move(p));
        kept.push_back(e);
      }
    items_ = std::move(kept);
    return out;
  }

private:
  struct entry {
    std::weak_ptr<T> ref;
    Extra extra;
  };
  std::mutex mtx_;
  std::vector<entry> items_;
};

/// Adds a function that fills in its part of the stats (actors, pools,
/// threads, locks register one each, once).
void add_stats_source(void (*fill)(node_stats&));

/// This node's stats, but for its queues (the transport fills those in).
node_stats collect_stats();

/// Asks the node listening at `socket_path` for its stats; nullopt if it
/// does not answer within `timeout`.
std::optional<node_stats> query_stats(const std::string& socket_path, duration timeout);

} // namespace actors::detail
