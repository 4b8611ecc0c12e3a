// actors::event: one futex word in shared memory.

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

event::event() {
  if (detail::decoding())
    return;
  segment_ = std::make_shared<detail::shm_segment>(sizeof(std::uint32_t));
}

void event::set() {
  if (far_) { // another host's event: its coordinator sets it
    detail::far_call(*far_, detail::sync_op::set);
    return;
  }
  auto& w = detail::word(segment_);
  if (w.exchange(1) == 0)
    detail::futex(&w, FUTEX_WAKE, INT_MAX, nullptr);
}

void event::clear() {
  if (far_) {
    detail::far_call(*far_, detail::sync_op::clear);
    return;
  }
  detail::word(segment_).store(0);
}

bool event::is_set() const {
  if (far_)
    return detail::far_call(*far_, detail::sync_op::is_set).ok;
  return detail::word(segment_).load() != 0;
}

bool event::wait(duration timeout) const {
  if (far_)
    return detail::far_call(*far_, detail::sync_op::wait, true, timeout).ok;
  auto& w = detail::word(segment_);
  auto deadline = detail::deadline_in(timeout);
  while (w.load() == 0) {
    if (detail::steady::now() >= deadline)
      return false;
    // Returns at once if the word is no longer 0; nothing to re-check, so
    // the slice is long.
    detail::futex_sleep(&w, 0, deadline, std::chrono::hours(1));
  }
  return true;
}

std::ostream& operator<<(std::ostream& os, const event& e) {
  return os << (e.is_set() ? "<actors::event set>" : "<actors::event unset>");
}

} // namespace actors
