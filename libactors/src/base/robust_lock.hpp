#pragma once
// Holding a robust process-shared mutex (sync's shared states, the queue's
// ring). Never installed.
//
// A holder that died (EOWNERDEAD) left the guarded state usable: every user
// of this guard commits its changes with single-word stores, so the state is
// as it was before the dead holder's change or after it. The lock is marked
// consistent and held as usual.

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <pthread.h>

namespace actors::detail {

/// A pause in a spin loop: lets the other hyperthread run and saves power.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class robust_lock {
public:
  /// Locks `m`. With `spins` > 0 it first tries that many times, and only
  /// while the lock word says free (glibc keeps it first), so a failed try
  /// never takes the cache line from the holder: a lock held for a short
  /// copy is free again within a microsecond, and a sleep and its wake-up
  /// cost tens of them.
  explicit robust_lock(pthread_mutex_t* m, int spins = 0) : m_(m) {
    auto* word = reinterpret_cast<std::atomic<std::uint32_t>*>(m);
    int r = EBUSY;
    for (int i = 0; i < spins && r == EBUSY; ++i) {
      if (word->load(std::memory_order_relaxed) == 0)
        r = pthread_mutex_trylock(m);
      if (r == EBUSY)
        cpu_relax();
    }
    if (r == EBUSY)
      r = pthread_mutex_lock(m);
    if (r == EOWNERDEAD)
      pthread_mutex_consistent(m);
  }
  ~robust_lock() { pthread_mutex_unlock(m_); }
  robust_lock(const robust_lock&) = delete;
  robust_lock& operator=(const robust_lock&) = delete;

private:
  pthread_mutex_t* m_;
};

} // namespace actors::detail
