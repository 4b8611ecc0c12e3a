#pragma once
// Futex words shared between processes (sync's objects, the queue's ring):
// the raw call, and a sleep that follows the deadline policy (deadline.hpp).
// Never installed.

#include <actors/detail/deadline.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace actors::detail {

inline long futex(std::atomic<std::uint32_t>* addr, int op, std::uint32_t val, const timespec* t) {
  // Not FUTEX_PRIVATE_FLAG: the word is shared between processes.
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), op, val, t, nullptr, 0);
}

/// Wakes every process and thread asleep on `word`.
inline void futex_wake_all(std::atomic<std::uint32_t>* word) {
  futex(word, FUTEX_WAKE, INT32_MAX, nullptr);
}

using steady = std::chrono::steady_clock;

/// Sleeps while `*word` still equals `seen`, until a wake-up, `deadline`, or
/// at most `slice` (waiters that re-check for dead processes use
/// recheck_slice). A signal ends the sleep early, like a wake-up.
inline void futex_sleep(std::atomic<std::uint32_t>* word, std::uint32_t seen,
                        steady::time_point deadline, steady::duration slice = recheck_slice) {
  auto left = next_slice(deadline, slice);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec rel{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  futex(word, FUTEX_WAIT, seen, &rel);
}

} // namespace actors::detail
