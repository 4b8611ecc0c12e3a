#pragma once
// A running actor, as the runtime sees it. Never installed.

#include <actors/actor_context.hpp>

#include <caf/actor.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace caf {
class event_based_actor;
}

namespace actors::detail {

using envelope_ptr = std::shared_ptr<envelope>;

class actor_cell : public std::enable_shared_from_this<actor_cell> {
public:
  explicit actor_cell(std::shared_ptr<const actor_address> a) : shared(std::move(a)), address(*shared) {}
  std::shared_ptr<const actor_address> shared; // also what its handles point to
  const actor_address& address;
  const actor_kind* kind = nullptr;
  void* obj = nullptr;            // the user's object; touched only on the actor
  caf::actor handle;              // its CAF actor
  caf::event_based_actor* self = nullptr; // while it runs
  bool stop_requested = false;    // on the actor only

  std::atomic<bool> alive{true};
  /// Messages posted and not yet run (the mailbox depth), and messages run.
  std::atomic<std::uint32_t> queued{0};
  std::atomic<std::uint64_t> handled{0};
  std::mutex mtx;                 // guards `more`, `supervisor`, `restarts`
  /// Who supervises it and how often it was restarted, for actors-top
  /// (set_supervision).
  std::string supervisor;
  std::uint32_t restarts = 0;

  /// A bounded mailbox (mailbox_options): its senders wait here for room.
  /// Made at spawn for a bounded actor only.
  struct bound {
    explicit bound(const mailbox_options& o) : options(o) {}
    const mailbox_options options;
    std::mutex mtx;
    std::condition_variable room; // notified as messages run, and at death
    int waiters = 0;              // under mtx
  };
  std::unique_ptr<bound> bounded;
  /// Wakes the senders waiting for room (a message ran, or the actor died).
  void room_freed() noexcept {
    if (auto* b = bounded.get()) {
      std::lock_guard<std::mutex> lock(b->mtx);
      if (b->waiters)
        b->room.notify_all();
    }
  }

  /// What only some actors need: an exit trap, monitors, a failure. Made on
  /// first use, so an idle actor does not carry them (about 100 bytes).
  struct extras {
    down_fn trap;                 // set and called on the actor
    down_reason reason;           // why it stopped (set before it stops)
    std::vector<std::pair<std::uint64_t, down_fn>> watchers;
  };
  std::unique_ptr<extras> more;   // guarded by mtx
  /// The extras, made if needed. Caller holds mtx.
  extras& more_locked() {
    if (!more)
      more = std::make_unique<extras>();
    return *more;
  }
  /// Why it stopped so far (normal, no message, unless set). Caller holds mtx.
  down_reason reason_locked() const { return more ? more->reason : down_reason{}; }

  /// Runs once the CAF actor has finished: on_stop, the object's
  /// destruction, the table, and every watcher.
  void died() noexcept;
};

/// A fresh actor id of this node, for an actor that keeps it across restarts.
std::uint64_t reserve_actor_id();

/// True once this node has begun to stop its actors (a supervisor then
/// restarts nothing).
bool node_stopping() noexcept;

/// Records that `supervisor` (a name; empty: none) supervises the actor of
/// `c` and has restarted it `restarts` times; actors-top shows both.
/// Thread-safe.
void set_supervision(actor_cell& c, std::string supervisor, std::uint32_t restarts);

/// Tells dropped because their actor was gone.
std::atomic<std::uint64_t>& dropped_count() noexcept;

} // namespace actors::detail
