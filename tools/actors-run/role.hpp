// role.hpp (private to actors-run): what a role works with. The items and
// the endpoints (a queue or a pipe end) it reads and writes, its
// configuration, its body as a plain function (run_role, for processes and
// threads) and as an actor under a supervisor (role_actor), and the state a
// supervised role keeps outside itself (role_state).

#pragma once

#include <actors/all.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <poll.h>

namespace actors_run {

using namespace std::chrono_literals;

// -- what a role works with ---------------------------------------------------------

using item = std::optional<std::int64_t>; // nullopt: the end of the stream

/// One end a role reads from or writes to: a queue or a pipe end.
struct endpoint {
  std::optional<actors::queue<item>> queue;
  std::optional<actors::connection<item>> pipe;

  bool valid() const { return queue || pipe; }
  // Puts `v`, waiting while a bounded queue (or the pipe's buffer) is full;
  // false if `stop` was set first. Checks `stop` every 100 ms.
  bool put(const item& v, const actors::event& stop) {
    for (;;) {
      if (try_put(v, 100ms))
        return true;
      if (stop.is_set())
        return false;
    }
  }
  // Puts `v` if there is room within `timeout`.
  bool try_put(const item& v, actors::duration timeout) {
    if (queue)
      return queue->try_put(v, timeout);
    pollfd p{pipe->fileno(), POLLOUT, 0};
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) // no room yet (or EINTR: try again)
      return false;
    pipe->send(v);
    return true;
  }
  // The next item, or nothing within `timeout`.
  std::optional<item> get(actors::duration timeout) {
    if (queue)
      return queue->try_get(timeout);
    return pipe->try_recv(timeout);
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(queue, pipe);
  }
};

/// What one instance of a group runs.
struct role_config {
  std::string group;
  std::string role; // produce | transform | sink
  std::string op = "identity";
  std::int64_t count = 0; // produce: 0 is endless
  double rate = 0;        // produce: items per second, 0 = unlimited
  std::int64_t delay_us = 0;
  double crash_rate = 0;
  std::uint64_t seed = 1; // differs per group, instance and restart
  std::size_t slot = 0; // this instance's counters: processed at 2*slot, sum at 2*slot+1
  template <class Archive>
  void serialize(Archive& ar) {
    ar(group, role, op, count, rate, delay_us, crash_rate, seed, slot);
  }
};

/// A seed for the random crashes of one run of one instance: a restarted
/// instance must not replay the crashes of the run before it.
std::uint64_t seed_of(std::uint64_t group, std::size_t slot, int restarts);

std::int64_t apply_op(const std::string& op, std::int64_t v);

/// The body of every process and actor: a role until its input ends, its
/// count is reached, or `stop` is set. Every wait (a full output, an empty
/// input, delay_us, rate) checks `stop` at least every 100 ms.
void run_role(role_config cfg, endpoint in, endpoint out, actors::array<std::int64_t> counters,
              actors::event stop);

/// What a supervised role keeps outside itself, in an actors::array shared
/// by every process, three entries per instance ("slot"): whether it has
/// finished, how often it was built (part of its seed), and items it had to
/// drop when stopped (a transform whose output stayed full).
struct role_state {
  static constexpr std::size_t width = 3;
  static std::size_t finished(std::size_t slot) { return width * slot; }
  static std::size_t runs(std::size_t slot) { return width * slot + 1; }
  static std::size_t dropped(std::size_t slot) { return width * slot + 2; }
};

/// A role as a real actor under an actors::supervisor. step() works for one
/// slice (up to 50 ms or 256 items, with waits of at most 10 ms), then tells
/// itself step again, or asks for it after a short pause (at most 100 ms)
/// when its input is empty, its output full or its rate ahead: its
/// supervisor's stop and other messages get through between slices, and it
/// never holds a CAF worker for long. Each instance starts its chain of
/// steps from on_start(), so a restarted one goes on at once.
///
/// Nothing of it survives a restart but what is in the shared arrays: a
/// restarted producer goes on after the items counted as processed, and a
/// role that has finished stays finished (it idles until it is stopped, so
/// a permanent child that is done is not restarted).
class role_actor {
public:
  role_actor(role_config cfg, endpoint in, endpoint out, actors::array<std::int64_t> counters,
             actors::array<std::int64_t> state, actors::event stop);

  void on_start() { actors::self().handle(this).tell(&role_actor::step); }

  void step();

  // Stopped (by its supervisor, or by actors-run) while holding a result:
  // it gets a second to find room, else it is counted as dropped.
  void on_stop();

private:
  using clock = std::chrono::steady_clock;
  std::atomic<std::int64_t>& processed() const { return counters_[2 * cfg_.slot]; }
  std::atomic<std::int64_t>& sum() const { return counters_[2 * cfg_.slot + 1]; }
  bool finished() const { return state_[role_state::finished(cfg_.slot)].load() != 0; }
  // Done: it idles from now on, so what its process fetched from a queue
  // beyond what it took (another reader's end marker, say) goes back now,
  // as it would when a process exits: a reader in another process may be
  // waiting for it. (Inside actors-run this hands back what the process
  // fetched for its other readers too; they fetch it again.)
  void finish();

  void again(actors::duration pause);

  void after_item(std::int64_t v);

  role_config cfg_;
  endpoint in_, out_;
  actors::array<std::int64_t> counters_, state_;
  actors::event stop_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> chance_{0, 1};
  clock::time_point start_ = clock::now();
  std::int64_t first_ = 1; // the first item this run produces
  std::optional<std::int64_t> pending_;
};

} // namespace actors_run
