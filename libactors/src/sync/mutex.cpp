// Shared memory segments and robust process-shared mutexes (mutex,
// recursive_mutex).

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

namespace detail {

shm_segment::shm_segment(std::size_t size) : size_(size) {
  fd_ = memfd_of_size("actors-shared", size).release();
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    ::close(fd_);
    throw_errno("mmap (shared memory)");
  }
  data_ = static_cast<char*>(p);
}

shm_segment::shm_segment(int fd) : fd_(fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    throw error(errc::bad_payload, "a shared-memory descriptor that arrived is not usable");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    ::close(fd_);
    throw_errno("mmap (shared memory)");
  }
  data_ = static_cast<char*>(p);
}

shm_segment::~shm_segment() {
  if (data_)
    ::munmap(data_, size_);
  if (fd_ >= 0)
    ::close(fd_);
}

std::shared_ptr<shm_segment> import_segment(std::uint32_t index) {
  return std::make_shared<shm_segment>(import_fd(index));
}

std::size_t mutex_bytes() noexcept {
  return (sizeof(pthread_mutex_t) + 63) / 64 * 64;
}

void init_robust_mutex(void* where, bool recursive) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  // Error checking: unlock by a non-owner is EPERM, never undefined.
  pthread_mutexattr_settype(&attr, recursive ? PTHREAD_MUTEX_RECURSIVE
                                             : PTHREAD_MUTEX_ERRORCHECK);
  int rc = pthread_mutex_init(static_cast<pthread_mutex_t*>(where), &attr);
  pthread_mutexattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    throw_errno("pthread_mutex_init");
  }
}

namespace {
weak_registry<shm_segment> known_locks; // extra: recursive

// The locks this process created, and who holds them (glibc keeps the
// holder's thread id in the mutex).
void lock_stats_of(node_stats& s) {
  known_locks.each([&s](shm_segment& seg, bool recursive) {
    auto* m = reinterpret_cast<pthread_mutex_t*>(seg.data());
    lock_stats ls;
    ls.kind = recursive ? "recursive_mutex" : "mutex";
    ls.holder_tid = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) & 0x3fffffff;
    s.locks.push_back(ls);
  });
}
} // namespace

basic_mutex::basic_mutex(bool recursive) {
  if (decoding())
    return; // a placeholder that load() fills in
  segment_ = std::make_shared<shm_segment>(mutex_bytes());
  init_robust_mutex(segment_->data(), recursive);
  static bool registered = (add_stats_source(&lock_stats_of), true);
  (void) registered;
  known_locks.add(segment_, recursive);
}

void* basic_mutex::native() const {
  if (!segment_)
    throw error(errc::closed, "this lock is not attached to shared memory");
  return segment_->data() + offset_;
}

// The holder died inside its critical section and the kernel handed us the
// lock (EOWNERDEAD): mark it usable again and say so.
void basic_mutex::recover_from_dead_holder(void* native_mutex) {
  pthread_mutex_consistent(static_cast<pthread_mutex_t*>(native_mutex));
  owner_died_ = true;
  log::warning() << "a lock's previous holder died while holding it; the lock was "
                    "recovered (owner_died)";
}

bool basic_mutex::acquire(bool blocking, duration timeout) {
  if (far_) { // another host's lock: its coordinator takes it for this thread
    auto a = far_call(*far_, sync_op::acquire, blocking, timeout);
    owner_died_ = a.owner_died;
    return a.ok;
  }
  auto* m = static_cast<pthread_mutex_t*>(native());
  int rc;
  if (!blocking) {
    rc = pthread_mutex_trylock(m);
  } else if (timeout == forever) {
    rc = pthread_mutex_lock(m);
  } else {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
    long long total = static_cast<long long>(now.tv_nsec) + ns % 1'000'000'000;
    timespec until{now.tv_sec + static_cast<time_t>(ns / 1'000'000'000 + total / 1'000'000'000),
                   static_cast<long>(total % 1'000'000'000)};
    rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &until);
  }
  owner_died_ = false;
  if (rc == EOWNERDEAD) {
    recover_from_dead_holder(m);
    return true;
  }
  if (rc == 0)
    return true;
  if (rc == EBUSY || rc == ETIMEDOUT || (rc == EDEADLK && !blocking))
    return false; // a non-blocking try on a lock we hold ourselves: held
  if (rc == EDEADLK) // Python would deadlock here forever
    throw error(errc::bad_argument,
                "acquire(): this thread already holds this lock (use recursive_mutex "
                "to acquire it again)");
  errno = rc;
  throw_errno("pthread_mutex_lock");
}

bool basic_mutex::locked() const {
  if (far_)
    return far_call(*far_, sync_op::locked).ok;
  auto* m = static_cast<pthread_mutex_t*>(native());
  int rc = pthread_mutex_trylock(m);
  if (rc == EOWNERDEAD) { // a dead holder: free now, and usable again
    pthread_mutex_consistent(m);
    rc = 0;
  }
  if (rc == 0) {
    pthread_mutex_unlock(m);
    return false;
  }
  return true;
}

bool basic_mutex::take_over_from_dead_holder() {
  if (far_)
    return false; // its coordinator gives a dead far holder's lock back itself
  auto* m = static_cast<pthread_mutex_t*>(native());
  int rc = pthread_mutex_trylock(m);
  if (rc == EOWNERDEAD) {
    recover_from_dead_holder(m);
    return true;
  }
  if (rc == 0)
    pthread_mutex_unlock(m);
  return false;
}

void basic_mutex::release() {
  if (far_) {
    far_call(*far_, sync_op::release);
    return;
  }
  int rc = pthread_mutex_unlock(static_cast<pthread_mutex_t*>(native()));
  if (rc == EPERM)
    throw error(errc::not_owner,
                "release(): this thread does not hold the lock (release an unheld lock, "
                "or one held by another thread or process)");
  if (rc != 0) {
    errno = rc;
    throw_errno("pthread_mutex_unlock");
  }
}

namespace {
// The process a thread belongs to (its Tgid), or 0 if the thread is gone.
int process_of_thread(int tid) {
  std::ifstream in("/proc/" + std::to_string(tid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Tgid:", 0) == 0)
      return std::atoi(line.c_str() + 5);
  return 0;
}
} // namespace

// glibc keeps the holder's thread id and the recursion count in the mutex
// (as lock_stats_of reads them); the kernel does not clear them when the
// holder dies, so a holder that is gone is told apart by /proc.
void describe_lock(std::ostream& os, const basic_mutex& m, bool recursive) {
  if (m.far_) {
    os << "<actors::" << (recursive ? "recursive_mutex" : "mutex")
       << (m.locked() ? " locked" : " unlocked") << ", lent by another host>";
    return;
  }
  auto* native = static_cast<pthread_mutex_t*>(m.native());
  int tid = __atomic_load_n(&native->__data.__owner, __ATOMIC_RELAXED) & 0x3fffffff;
  unsigned count = __atomic_load_n(&native->__data.__count, __ATOMIC_RELAXED);
  os << "<actors::" << (recursive ? "recursive_mutex" : "mutex");
  if (tid == 0) {
    os << " unlocked>";
    return;
  }
  int pid = process_of_thread(tid);
  if (pid == 0)
    os << " locked by a thread that died (tid " << tid << ")";
  else
    os << " locked by pid " << pid;
  if (recursive)
    os << ", count=" << std::max(count, 1u);
  os << '>';
}

} // namespace detail

std::ostream& operator<<(std::ostream& os, const mutex& m) {
  detail::describe_lock(os, m, false);
  return os;
}

std::ostream& operator<<(std::ostream& os, const recursive_mutex& m) {
  detail::describe_lock(os, m, true);
  return os;
}

} // namespace actors
