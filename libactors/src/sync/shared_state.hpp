#pragma once
// What sync's shared-memory objects share: their futex words, and the records
// of the processes that hold or wait on them (pid and start time, so a
// recycled pid is not mistaken for the process; gone() is the one test for a
// recorded process that died). Never installed.

#include <actors/detail/deadline.hpp>
#include <actors/detail/shm.hpp>
#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <linux/futex.h>
#include <memory>
#include <pthread.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/futex.hpp"
#include "base/robust_lock.hpp"

namespace actors::detail {

// -- futex words -----------------------------------------------------------------

inline std::atomic<std::uint32_t>& word(const std::shared_ptr<shm_segment>& s) {
  if (!s)
    throw error(errc::closed, "this event is not attached to shared memory");
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(s->data());
}

// -- who is alive ----------------------------------------------------------------

/// Process records per object: a semaphore's holders, a barrier's parties.
inline constexpr int semaphore_slots = 128;

struct holder {
  std::int32_t pid;
  std::uint32_t held;
  std::uint64_t start; // start time, so a recycled pid is not mistaken for it
};

// The start time of `pid` (clock ticks since boot), or 0 if it is gone.
inline std::uint64_t start_time(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f)
    return 0;
  char buf[1024];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')'); // the name may hold spaces
  if (!p)
    return 0;
  // Fields after the name start at 3 (state); the start time is field 22.
  unsigned long long t = 0;
  char state = 0;
  int field = 3;
  for (p += 2; *p && field < 22; ++p)
    if (*p == ' ')
      ++field;
  if (std::sscanf(p, "%llu", &t) != 1)
    return 0;
  if (std::sscanf(std::strrchr(buf, ')') + 2, "%c", &state) == 1 && state == 'Z')
    return 0; // a zombie holds nothing any more
  return t;
}

struct me {
  int pid = 0;
  std::uint64_t start = 0;
};

inline me& myself() {
  static me m;
  if (m.pid != ::getpid()) { // first use, or after a fork
    m.pid = ::getpid();
    m.start = start_time(m.pid);
  }
  return m;
}

inline bool is_me(std::int32_t pid, std::uint64_t start) {
  return pid == myself().pid && start == myself().start;
}

// True if the process `pid` that started at `start` has died (or is a zombie).
inline bool gone(std::int32_t pid, std::uint64_t start) {
  return !is_me(pid, start) && start_time(pid) != start;
}

// The state that follows the robust mutex at the start of segment `s`, for
// a handle named `what` ("semaphore").
template <class State>
State& state_after_mutex(const std::shared_ptr<shm_segment>& s, const char* what) {
  if (!s)
    throw error(errc::closed, std::string("this ") + what + " is not attached to shared memory");
  return *reinterpret_cast<State*>(s->data() + mutex_bytes());
}

// Locks the robust mutex at the start of a segment that guards the state
// after it; a holder that died mid-update left single-word fields, so the
// state is usable as it is.
struct state_lock : robust_lock {
  explicit state_lock(const std::shared_ptr<shm_segment>& s)
    : robust_lock(reinterpret_cast<pthread_mutex_t*>(s->data())) {}
};

} // namespace actors::detail
