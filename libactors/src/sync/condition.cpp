// actors::condition: waiters recorded in shared memory, woken oldest first.

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

// -- conditions -----------------------------------------------------------------
//
// Layout: [robust mutex][state], as for semaphores. Every wait has a record
// (process, arrival ticket, notified or not), made by enter() while the
// caller still holds the condition's lock. notify(n) marks the n oldest
// records still waiting, so it wakes only waiters that were there when it
// was called: one that starts waiting later cannot take the wake-up (with a
// shared count of wake-ups, a process that notified and then waited itself
// took the one it had just given, and both slept for ever). A waiter whose
// process died takes no wake-up; its record is dropped. Waiters sleep on
// `seq`, which every notify bumps.

namespace detail {

namespace {

constexpr int condition_slots = 256;

struct condition_waiter {
  std::int32_t pid; // 0: a free record
  std::uint32_t notified;
  std::uint64_t start;
  std::uint64_t ticket; // order of arrival
};

struct condition_state {
  std::atomic<std::uint32_t> seq;
  std::uint64_t next_ticket;
  condition_waiter waiters[condition_slots];
};

condition_state& cstate(const std::shared_ptr<shm_segment>& s) {
  return state_after_mutex<condition_state>(s, "condition");
}

condition_waiter* free_record(condition_state& st) {
  for (auto& w : st.waiters)
    if (w.pid == 0)
      return &w;
  return nullptr;
}

// Marks up to `n` waiters notified, oldest first. Returns how many.
std::uint32_t hand_out(condition_state& st, std::uint32_t n) {
  std::uint32_t given = 0;
  while (given < n) {
    condition_waiter* oldest = nullptr;
    for (auto& w : st.waiters)
      if (w.pid != 0 && !w.notified && (!oldest || w.ticket < oldest->ticket))
        oldest = &w;
    if (!oldest)
      break;
    if (gone(oldest->pid, oldest->start)) { // it would never wake up
      *oldest = {};
      continue;
    }
    oldest->notified = 1;
    ++given;
  }
  return given;
}

} // namespace

condition_core::condition_core() {
  if (decoding())
    return;
  segment_ = std::make_shared<shm_segment>(mutex_bytes() + sizeof(condition_state));
  init_robust_mutex(segment_->data(), false);
}

unsigned condition_core::enter() {
  auto& st = cstate(segment_);
  state_lock hold(segment_);
  auto* w = free_record(st);
  if (!w) { // drop the records of waiters that died
    for (auto& d : st.waiters)
      if (d.pid != 0 && gone(d.pid, d.start))
        d = {};
    w = free_record(st);
  }
  if (!w)
    throw error(errc::system_error,
                "condition: " + std::to_string(condition_slots)
                  + " threads and processes wait already, and more cannot at once");
  *w = {myself().pid, 0, myself().start, st.next_ticket++};
  return static_cast<unsigned>(w - st.waiters);
}

bool condition_core::sleep(unsigned place, duration timeout,
                           const std::function<bool()>& dead_holder) {
  auto& st = cstate(segment_);
  auto& mine = st.waiters[place];
  auto deadline = deadline_in(timeout);
  for (;;) {
    std::uint32_t seen;
    {
      state_lock hold(segment_);
      if (mine.notified || steady::now() >= deadline) {
        bool woken = mine.notified != 0; // a notify that came with the timeout counts
        mine = {};
        return woken;
      }
      seen = st.seq.load();
    }
    futex_sleep(&st.seq, seen, deadline);
    if (dead_holder && dead_holder()) { // nobody is left to notify us
      state_lock hold(segment_);
      mine = {};
      return true;
    }
  }
}

void condition_core::notify(unsigned n) {
  auto& st = cstate(segment_);
  {
    state_lock hold(segment_);
    if (hand_out(st, n) == 0)
      return;
    st.seq.fetch_add(1);
  }
  // Every sleeper wakes; those not marked sleep again.
  futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

void condition_core::notify_all() {
  notify(UINT32_MAX);
}

unsigned condition_core::waiting() const {
  auto& st = cstate(segment_);
  state_lock hold(segment_);
  unsigned n = 0;
  for (auto& w : st.waiters)
    if (w.pid != 0 && !w.notified && !gone(w.pid, w.start))
      ++n;
  return n;
}

void describe_condition(std::ostream& os, const basic_mutex& lock, bool recursive,
                        const condition_core& core) {
  os << "<actors::condition on ";
  describe_lock(os, lock, recursive);
  os << ", waiting=" << core.waiting() << '>';
}

} // namespace detail

} // namespace actors
