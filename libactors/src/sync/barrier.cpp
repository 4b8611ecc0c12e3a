// actors::barrier: parties recorded in shared memory; a dead party breaks it.

#include <actors/detail/channel.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/detail/target.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/sync.hpp>

#include "base/fd.hpp"
#include "runtime/stats.hpp"

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <ostream>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sync/shared_state.hpp"

namespace actors {

// -- barriers -------------------------------------------------------------------
//
// Shared state under a robust mutex; waiters sleep on `seq`. Each waiting
// party is recorded (pid, start time). A waiting party that is gone breaks
// the barrier: waiters look every 100 ms, and wait(), broken() and
// n_waiting() look first, so a party that arrives after the death (even the
// last one) finds the barrier broken.

namespace detail {

namespace {

struct barrier_state {
  std::atomic<std::uint32_t> seq;
  std::uint32_t parties;
  std::uint32_t count;      // waiting in this generation
  std::uint32_t generation;
  std::uint32_t broken;
  std::uint32_t reset_gen;  // a generation that reset() broke (UINT32_MAX: none)
  std::int64_t timeout_ns;  // the barrier's default timeout; -1: none
  std::uint64_t action_offset;
  char action_module[256];  // "" and offset 0: no action
  char why[128];            // why it broke
  holder waiting[semaphore_slots];
};

barrier_state& bstate(const std::shared_ptr<shm_segment>& s) {
  return state_after_mutex<barrier_state>(s, "barrier");
}

void break_barrier(barrier_state& st, const std::string& why) {
  st.broken = 1;
  std::snprintf(st.why, sizeof st.why, "%s", why.c_str());
  st.seq.fetch_add(1);
  futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

[[noreturn]] void throw_broken(const barrier_state& st) {
  throw broken_barrier_error(std::string("the barrier is broken: ") + st.why);
}

// Breaks the barrier if a waiting party has died.
void look_for_dead_parties(barrier_state& st) {
  if (st.broken)
    return;
  for (auto& h : st.waiting)
    if (h.held && gone(h.pid, h.start)) {
      auto pid = h.pid;
      h = {};
      --st.count;
      break_barrier(st, "waiting party pid " + std::to_string(pid) + " died");
      return;
    }
}

} // namespace

} // namespace detail

barrier::barrier(unsigned parties, void (*action)(), duration timeout) {
  if (detail::decoding())
    return;
  if (parties == 0)
    throw error(errc::bad_argument, "barrier: parties must be at least 1");
  if (parties > detail::semaphore_slots)
    throw error(errc::bad_argument, "barrier: at most 128 parties");
  segment_ = std::make_shared<detail::shm_segment>(detail::mutex_bytes()
                                                   + sizeof(detail::barrier_state));
  detail::init_robust_mutex(segment_->data(), false);
  auto& st = detail::bstate(segment_);
  st.parties = parties;
  st.reset_gen = UINT32_MAX;
  st.timeout_ns = timeout == forever ? -1 : timeout.count();
  if (action) {
    auto where = detail::locate(reinterpret_cast<detail::any_fn>(action));
    if (where.module.size() >= sizeof st.action_module)
      throw error(errc::bad_argument, "barrier: the action's module path is too long");
    std::snprintf(st.action_module, sizeof st.action_module, "%s", where.module.c_str());
    st.action_offset = where.offset;
  }
}

unsigned barrier::wait() {
  auto ns = detail::bstate(segment_).timeout_ns;
  return wait(ns < 0 ? forever : duration(ns));
}

unsigned barrier::wait(duration timeout) {
  auto& st = detail::bstate(segment_);
  auto deadline = detail::deadline_in(timeout);
  auto& me = detail::myself();
  std::uint32_t gen, index;
  detail::holder* slot = nullptr;
  {
    detail::state_lock hold(segment_);
    detail::look_for_dead_parties(st);
    if (st.broken)
      detail::throw_broken(st);
    gen = st.generation;
    index = st.count++;
    if (st.count == st.parties) { // the last party: run the action, release all
      if (st.action_module[0] || st.action_offset) {
        auto fn = detail::resolve({st.action_module, st.action_offset});
        try {
          if (!fn)
            throw error(errc::target_not_found, "the barrier's action is not loaded here");
          fn();
        } catch (const std::exception& e) {
          --st.count;
          detail::break_barrier(st, std::string("its action threw: ") + e.what());
          throw;
        }
      }
      st.count = 0;
      ++st.generation;
      for (auto& h : st.waiting)
        h = {};
      st.seq.fetch_add(1);
      detail::futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
      return index;
    }
    for (auto& h : st.waiting)
      if (h.held == 0) {
        h = {me.pid, 1, me.start};
        slot = &h;
        break;
      }
  }
  for (;;) {
    auto seen = st.seq.load();
    {
      detail::state_lock hold(segment_);
      if (st.generation != gen) {
        if (st.reset_gen == gen)
          throw broken_barrier_error("the barrier is broken: reset() while parties were waiting");
        return index;
      }
      detail::look_for_dead_parties(st);
      if (st.broken) { // this party leaves
        if (slot)
          *slot = {};
        --st.count;
        detail::throw_broken(st);
      }
      if (detail::steady::now() >= deadline) {
        if (slot)
          *slot = {};
        --st.count;
        detail::break_barrier(st, "a wait() timed out");
        detail::throw_broken(st);
      }
    }
    detail::futex_sleep(&st.seq, seen, deadline);
  }
}

void barrier::reset() {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  if (st.count > 0) // current waiters find their generation was reset
    st.reset_gen = st.generation;
  st.count = 0;
  for (auto& h : st.waiting)
    h = {};
  ++st.generation;
  st.broken = 0;
  st.why[0] = '\0';
  st.seq.fetch_add(1);
  detail::futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

void barrier::abort() {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  detail::break_barrier(st, "abort()");
}

bool barrier::broken() const {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  detail::look_for_dead_parties(st);
  return st.broken != 0;
}

unsigned barrier::n_waiting() const {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  detail::look_for_dead_parties(st);
  return st.count;
}

unsigned barrier::parties() const {
  return detail::bstate(segment_).parties;
}

std::ostream& operator<<(std::ostream& os, const barrier& b) {
  os << "<actors::barrier parties=" << b.parties() << " waiting=" << b.n_waiting();
  if (b.broken())
    os << " broken";
  return os << '>';
}

} // namespace actors
