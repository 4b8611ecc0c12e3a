// Shared memory segments, robust process-shared mutexes, and futex events.

#include <actors/detail/channel.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/sync.hpp>

#include "fd.hpp"

#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace actors {

namespace detail {

shm_segment::shm_segment(std::size_t size) : size_(size) {
  fd_ = ::memfd_create("actors-shared", MFD_CLOEXEC);
  if (fd_ < 0)
    throw_errno("memfd_create");
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    ::close(fd_);
    throw_errno("ftruncate (shared memory)");
  }
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

basic_mutex::basic_mutex(bool recursive) {
  if (decoding())
    return; // a placeholder that load() fills in
  segment_ = std::make_shared<shm_segment>(mutex_bytes());
  init_robust_mutex(segment_->data(), recursive);
}

void* basic_mutex::native() const {
  if (!segment_)
    throw error(errc::closed, "this lock is not attached to shared memory");
  return segment_->data() + offset_;
}

bool basic_mutex::acquire(bool blocking, duration timeout) {
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
    // The holder died inside its critical section; the kernel handed us the
    // lock. Mark it usable again and say so.
    pthread_mutex_consistent(m);
    owner_died_ = true;
    log::warning() << "a lock's previous holder died while holding it; the lock was "
                      "recovered (owner_died)";
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

void basic_mutex::release() {
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

std::atomic<std::uint32_t>& word(const std::shared_ptr<shm_segment>& s) {
  if (!s)
    throw error(errc::closed, "this event is not attached to shared memory");
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(s->data());
}

long futex(std::atomic<std::uint32_t>* addr, int op, std::uint32_t val, const timespec* t) {
  // Not FUTEX_PRIVATE_FLAG: the word is shared between processes.
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), op, val, t, nullptr, 0);
}

} // namespace

} // namespace detail

event::event() {
  if (detail::decoding())
    return;
  segment_ = std::make_shared<detail::shm_segment>(sizeof(std::uint32_t));
}

void event::set() {
  auto& w = detail::word(segment_);
  if (w.exchange(1) == 0)
    detail::futex(&w, FUTEX_WAKE, INT_MAX, nullptr);
}

void event::clear() {
  detail::word(segment_).store(0);
}

bool event::is_set() const {
  return detail::word(segment_).load() != 0;
}

bool event::wait(duration timeout) const {
  auto& w = detail::word(segment_);
  using clock = std::chrono::steady_clock;
  auto deadline = timeout == forever ? clock::time_point::max() : clock::now() + timeout;
  while (w.load() == 0) {
    timespec rel{};
    const timespec* t = nullptr;
    if (timeout != forever) {
      auto left = deadline - clock::now();
      if (left <= clock::duration::zero())
        return false;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      rel = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      t = &rel;
    }
    detail::futex(&w, FUTEX_WAIT, 0, t); // returns at once if the word is no longer 0
  }
  return true;
}

} // namespace actors
