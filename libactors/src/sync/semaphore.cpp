// actors::semaphore and bounded_semaphore: permits in shared memory that a
// dead holder gives back.

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

// -- semaphores ------------------------------------------------------------------
//
// Layout: [robust mutex][state]. The mutex guards the state; `seq` is the
// futex word waiters sleep on. Every process that holds permits has a slot
// (pid, start time, permits held), so permits of a dead process can be
// given back. acquire() gives them back when it finds no permit, when the
// slots are all taken, and every 100 ms while it waits; get_value() counts
// them as free.

namespace detail {

namespace {

struct semaphore_state {
  std::atomic<std::uint32_t> seq;
  std::uint32_t initial;
  std::uint32_t bounded;
  std::uint32_t value;
  holder slots[semaphore_slots];
};

semaphore_state& state_of(const std::shared_ptr<shm_segment>& s) {
  return state_after_mutex<semaphore_state>(s, "semaphore");
}

holder* find_slot(semaphore_state& st, bool claim) {
  auto& i = myself();
  holder* free_slot = nullptr;
  for (auto& h : st.slots) {
    if (h.pid == i.pid && h.start == i.start)
      return &h;
    if (!free_slot && h.held == 0)
      free_slot = &h;
  }
  if (!claim || !free_slot)
    return nullptr;
  *free_slot = {i.pid, 0, i.start};
  return free_slot;
}

// Permits that holders now gone still hold.
std::uint32_t dead_permits(const semaphore_state& st) {
  std::uint32_t n = 0;
  for (auto& h : st.slots)
    if (h.held > 0 && gone(h.pid, h.start))
      n += h.held;
  return n;
}

// Gives back the permits of holders that are gone and frees their slots.
// Returns how many. A bounded semaphore never goes above its initial value
// (another process may have released on behalf of the dead one).
std::uint32_t reclaim(semaphore_state& st) {
  std::uint32_t back = 0;
  for (auto& h : st.slots) {
    if (h.held > 0 && gone(h.pid, h.start)) {
      back += h.held;
      h = {};
    }
  }
  st.value += back;
  if (st.bounded && st.value > st.initial)
    st.value = st.initial;
  return back;
}

// This process's slot, claimed if it has none; slots of dead holders are
// reclaimed when none is free. Sets `reclaimed` if that gave permits back.
holder& my_slot(semaphore_state& st, bool& reclaimed) {
  if (auto* slot = find_slot(st, true))
    return *slot;
  if (reclaim(st) > 0)
    reclaimed = true;
  if (auto* slot = find_slot(st, true))
    return *slot;
  throw error(errc::system_error,
              "semaphore: " + std::to_string(semaphore_slots)
                + " live processes hold permits already, and more cannot at once; "
                  "release permits in some of them first");
}

} // namespace

} // namespace detail

semaphore::semaphore(unsigned value, bool bounded) {
  if (detail::decoding())
    return;
  segment_ = std::make_shared<detail::shm_segment>(detail::mutex_bytes()
                                                   + sizeof(detail::semaphore_state));
  detail::init_robust_mutex(segment_->data(), false);
  auto& st = detail::state_of(segment_);
  st.initial = value;
  st.bounded = bounded ? 1 : 0;
  st.value = value;
}

bool semaphore::acquire(bool blocking, duration timeout) {
  if (far_) { // another host's semaphore: its coordinator takes a permit
    auto a = detail::far_call(*far_, detail::sync_op::acquire, blocking, timeout);
    owner_died_ = a.owner_died;
    return a.ok;
  }
  auto& st = detail::state_of(segment_);
  auto deadline = detail::deadline_in(timeout);
  owner_died_ = false;
  for (;;) {
    std::uint32_t seen;
    {
      detail::state_lock hold(segment_);
      if (st.value == 0 && detail::reclaim(st) > 0)
        owner_died_ = true;
      if (st.value > 0) {
        auto& slot = detail::my_slot(st, owner_died_);
        --st.value;
        ++slot.held;
        return true;
      }
      seen = st.seq.load();
    }
    if (!blocking || detail::steady::now() >= deadline)
      return false;
    // Sleep until a release, or 100 ms to look for dead holders again.
    detail::futex_sleep(&st.seq, seen, deadline);
  }
}

void semaphore::release() {
  if (far_) {
    detail::far_call(*far_, detail::sync_op::release);
    return;
  }
  auto& st = detail::state_of(segment_);
  {
    detail::state_lock hold(segment_);
    if (st.bounded && st.value >= st.initial)
      throw error(errc::bad_argument, "bounded_semaphore released too many times");
    if (auto* slot = detail::find_slot(st, false); slot && slot->held > 0)
      --slot->held;
    ++st.value;
    st.seq.fetch_add(1);
  }
  detail::futex(&st.seq, FUTEX_WAKE, 1, nullptr);
}

unsigned semaphore::get_value() const {
  if (far_)
    return detail::far_call(*far_, detail::sync_op::value).value;
  auto& st = detail::state_of(segment_);
  detail::state_lock hold(segment_);
  auto value = st.value + detail::dead_permits(st);
  return st.bounded ? std::min(value, st.initial) : value;
}

std::ostream& operator<<(std::ostream& os, const semaphore& s) {
  if (s.far_)
    return os << "<actors::semaphore value=" << s.get_value() << ", lent by another host>";
  auto& st = detail::state_of(s.segment_);
  bool bounded = st.bounded != 0; // both are fixed at creation
  unsigned initial = st.initial;
  os << (bounded ? "<actors::bounded_semaphore value=" : "<actors::semaphore value=")
     << s.get_value();
  if (bounded)
    os << " max=" << initial;
  return os << '>';
}

} // namespace actors
