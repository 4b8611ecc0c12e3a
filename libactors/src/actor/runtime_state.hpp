#pragma once
// The actor runtime's private shared state: its wire ops, this node's actor
// table, the state kept per connection, and the handlers each part installs
// on the transport. Used by the runtime's files only; never installed.

#include "actor/cell.hpp"
#include "runtime/stats.hpp"


#include "io/transport.hpp"
#include "runtime/runtime.hpp"

#include <actors/actor.hpp>
#include <actors/detail/queue_client.hpp>
#include <actors/log.hpp>
#include <actors/node.hpp>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cxxabi.h>
#include <fcntl.h>
#include <dlfcn.h>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <string_view>
#include <pthread.h>
#include <unistd.h>
#include <unordered_map>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(actors::detail::envelope_ptr)

namespace actors::detail {

// Actors: each one is a CAF event-based actor of the node's actor system
// whose mailbox holds envelopes (calls, continuations, timers, exit
// signals). Calls between processes travel on the node's transport
// (io/transport.hpp) as frames:
//
//   op      payload (after the op byte)
//   call    u64 actor, u64 request (0: tell), u16 n, n bytes of call header,
//           the arguments (Cereal)
//   counted_call  the same, to a bounded mailbox: answered by `room` once run
//   room    u64 actor, u32 n     (n counted calls of this connection ran or
//                                 were dropped: the sender may send n more)
//   reply   u64 request, u8 status (0 ok, 1 error), the result or a wire_error
//   monitor u64 actor, u64 watch id      -> down when that actor stops
//   down    u64 watch id, down_reason
//   link    u64 actor, actor_address     (that node makes its actor watch the other)
//   spawn   u64 request, u32 n, n bytes of code_location, the arguments
//   registry u64 request, u8 what, name, optional<actor_address>  (root node only)
//
// The first payload byte of each frame, as queue_wire::op and pool_wire::op
// are for theirs.
namespace actor_wire {

enum op : std::uint8_t {
  op_call = 0x40,
  op_reply = 0x41,
  op_monitor = 0x42,
  op_down = 0x43,
  op_link = 0x44,
  op_spawn = 0x45,
  op_registry = 0x46,
  op_why = 0x47, // u64 request, i32 pid -> reply with the down_reason of that child
  op_hello = 0x48, // endpoint: a child that hosts actors tells its parent where
  op_counted_call = 0x49,
  op_room = 0x4a,
  op_stop = 0x4b,  // u64 id: stop that actor normally (a supervisor's shutdown)
};

} // namespace actor_wire

// -- this node's actors -------------------------------------------------------------

struct actor_table {
  std::mutex mtx;
  std::atomic<std::uint64_t> next_id{1};
  std::unordered_map<std::uint64_t, std::shared_ptr<actor_cell>> live;
  // Why recent actors stopped, so a late ask or monitor hears the truth.
  std::unordered_map<std::uint64_t, down_reason> graveyard;
  std::deque<std::uint64_t> graveyard_order;
  std::condition_variable none_live;
};

inline actor_table*& table_ptr() {
  static actor_table* t = new actor_table; // outlives static handles
  return t;
}

inline actor_table& table() {
  return *table_ptr();
}

inline std::shared_ptr<actor_cell> find_live(std::uint64_t id) {
  auto& t = table();
  std::lock_guard<std::mutex> lock(t.mtx);
  auto it = t.live.find(id);
  return it == t.live.end() ? nullptr : it->second;
}

inline std::mutex root_mtx;
inline std::string root_ep;
inline std::string parent_ep;
inline shared_text parent_ep_text;       // parent_ep, shared by this node's actors
inline shared_text own_ep_text;          // the transport's endpoint, likewise
inline const transport* own_ep_of = nullptr;

// The endpoints of this node's children that host actors, by pid, from their
// hello; an entry goes when the child's connection closes.
struct child_endpoints {
  std::mutex mtx;
  std::condition_variable known;
  std::unordered_map<int, std::string> by_pid;
};

inline child_endpoints*& children_ptr() {
  static auto* c = new child_endpoints;
  return c;
}

// Defers the control endpoint of a spare until it has reported its actor.
inline std::atomic<bool> control_endpoint_deferred{false};

caf::actor_system& ensure_actor_runtime();
transport& ensure_handlers();

// Why a local actor (by id) stopped, from the graveyard.
down_reason reason_of_local(std::uint64_t id);
// Why an actor stopped, for a message it will never run.
down_reason abandoned_reason(actor_cell& cell);

// Waits on `cv` until `pred` holds or `timeout` passes; false on timeout.
template <class Pred>
bool wait_for_room(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                   duration timeout, Pred pred) {
  if (timeout >= std::chrono::hours(24 * 365)) { // forever, or as good as
    cv.wait(lock, pred);
    return true;
  }
  return cv.wait_for(lock, timeout, pred);
}

// -- remote state per connection --------------------------------------------------------

struct pending_ask {
  std::shared_ptr<task_state> state;
  std::string actor;
  std::string parent; // who can tell why it ended
};

struct remote_watch {
  down_fn fn;
  actor_address who;
};

// Removes and returns the entry for `key`, under `mtx`; nullopt if absent.
template <class Map>
std::optional<typename Map::mapped_type> take_entry(std::mutex& mtx, Map& m,
                                                    const typename Map::key_type& key) {
  std::lock_guard<std::mutex> lock(mtx);
  auto it = m.find(key);
  if (it == m.end())
    return std::nullopt;
  auto v = std::move(it->second);
  m.erase(it);
  return v;
}

// What this node may still send to one bounded actor over one connection:
// its capacity minus the counted calls not yet answered with op_room.
struct mailbox_window {
  std::uint32_t in_flight = 0;
};

struct peer_actors {
  std::mutex mtx;
  std::unordered_map<std::uint64_t, pending_ask> pending;
  std::atomic<int> pending_count{0}; // pending.size(), read without the lock
  std::unordered_map<std::uint64_t, remote_watch> watches;
  std::unordered_map<std::uint64_t, mailbox_window> windows; // by actor id
  std::condition_variable room; // an op_room arrived, or the connection closed
  int room_waiters = 0;
  std::optional<down_reason> forced; // why the watchdog closed it
  std::chrono::steady_clock::time_point stopped_since{};
};

// How often the watchdog looks at the processes this node waits on, and
// how long one may stay stopped (SIGSTOP, a debugger) before its actors
// count as down. See actors::set_heartbeat.
inline std::atomic<long> watch_every_ms{250};
inline std::atomic<long> stopped_limit_ms{1500};

inline std::atomic<std::uint64_t> next_request{1};
inline std::atomic<std::uint64_t> next_watch{1};

inline peer_actors& state_of(const peer_ptr& p) {
  if (auto* ready = p->service_state_ready.load(std::memory_order_acquire))
    return *static_cast<peer_actors*>(ready);
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (!p->service_state)
    p->service_state = std::make_shared<peer_actors>();
  p->service_state_ready.store(p->service_state.get(), std::memory_order_release);
  return *static_cast<peer_actors*>(p->service_state.get());
}

struct wire_error {
  int code = 0;
  std::string type, message, actor, task;
  int pid = 0;
  down_reason reason;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(code, type, message, actor, task, pid, reason);
  }
};

wire_error to_wire(std::exception_ptr e);
std::exception_ptr from_wire(const wire_error& w);
std::string reply_payload(std::uint64_t req, bool ok, const std::string& body);

// Answers a request that came from another process.
class peer_route final : public reply_route {
public:
  peer_route(peer_ptr p, std::uint64_t req) : p_(std::move(p)), req_(req) {}
  void ok_encoded(std::string bytes) override { send(true, bytes); }
  void failed(std::exception_ptr e) override { send(false, encode(to_wire(e))); }

private:
  void send(bool ok, const std::string& body) {
    if (req_ == 0)
      return;
    try {
      transport::get().send(p_, reply_payload(req_, ok, body), true);
    } catch (const error& e) {
      // Over the frame cap: the asker still hears why.
      if (ok)
        failed(std::current_exception());
      else
        log::error() << "actor transport: a reply could not be sent: " << e.what();
    }
  }
  peer_ptr p_;
  std::uint64_t req_;
};

// Why the process `pid` is gone. A child of ours: its exit status says.
down_reason reason_for_pid(int pid);
down_reason reason_for_peer(const peer_ptr& p);

// Asks the parent node at `parent` why its child `pid` ended; `then` runs
// with the answer (or `fallback` when the parent cannot tell), on a loop
// thread or at once. Never blocks.
void ask_parent_why(const std::string& parent, int pid, down_reason fallback,
                    std::function<void(const down_reason&)> then);

std::uint64_t watch_local(const std::shared_ptr<actor_cell>& c, std::uint64_t id, down_fn fn);
void exit_signal(const std::shared_ptr<actor_cell>& target, const down& d);

// The transport's handlers (installed by ensure_handlers()).
void fail_peer(const peer_ptr& p);
void deliver_reply(const peer_ptr& p, const char* data, std::size_t size);
void on_room(const peer_ptr& p, const char* data, std::size_t size);
void on_call(const peer_ptr& p, const char* data, std::size_t size, bool counted);
void on_down(const peer_ptr& p, const char* data, std::size_t size);
void on_monitor(const peer_ptr& p, const char* data, std::size_t size);
void on_link(const peer_ptr&, const char* data, std::size_t size);
void on_spawn(const peer_ptr& p, const char* data, std::size_t size);
void on_registry(const peer_ptr& p, const char* data, std::size_t size);
void on_stop_request(const peer_ptr&, const char* data, std::size_t size);
void on_hello(const peer_ptr& p, const char* data, std::size_t size);
void on_why(const peer_ptr& p, const char* data, std::size_t size);
void post_open_batch();
void watchdog();

} // namespace actors::detail
