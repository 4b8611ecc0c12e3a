#pragma once
/// @file sync.hpp
/// Locks, semaphores and events shared by processes (and threads), like
/// Python's multiprocessing.Lock, RLock, Semaphore, BoundedSemaphore and
/// Event. They live in shared memory that travels with the handle when it is
/// passed to a child or through a pipe.
///
/// @code
/// void worker(actors::mutex m, int i) {
///   std::lock_guard<actors::mutex> hold(m);    // one process at a time
///   std::cout << "hello world " << i << '\n';
/// }
/// @endcode
///
/// A Lock is `actors::mutex` (a C++ class cannot be named `lock` and also
/// have the `lock()` member that std::lock_guard needs); RLock is
/// `actors::recursive_mutex`. Both are robust, process-shared pthread
/// mutexes: the kernel is their coordinator. When a process dies holding one,
/// the next acquirer gets it at once and is told (`owner_died()`), where
/// Python leaves the lock held forever.

#include <actors/detail/channel.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/detail/shm.hpp>
#include <actors/time.hpp>

#include <chrono>
#include <cstdint>
#include <memory>

namespace actors {

namespace detail {

class basic_mutex {
public:
  /// Waits for the lock (at most `timeout` when `blocking`). True if it was
  /// acquired; false on timeout or, with blocking = false, if it is held.
  /// After a previous holder died inside its critical section, the lock is
  /// acquired all the same and owner_died() turns true for this handle.
  /// Throws errc::bad_argument when a blocking acquire() of a mutex comes
  /// from the thread that holds it (Python deadlocks), errc::closed on an
  /// unloaded handle, errc::system_error.
  bool acquire(bool blocking = true, duration timeout = forever);

  /// Releases the lock. Throws errc::not_owner if this thread does not hold
  /// it (an unheld Lock, or an RLock held by another thread or process).
  void release();

  /// True if some thread or process holds the lock now (a snapshot). For a
  /// recursive_mutex held only by the calling thread it says false.
  bool locked() const;

  /// True if the last successful acquire() through this handle took the lock
  /// over from a holder that died (like EOWNERDEAD). Protected data may be
  /// half-updated: check it.
  bool owner_died() const noexcept { return owner_died_; }

  // Lockable and TimedLockable: std::lock_guard, unique_lock, scoped_lock.
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d) {
    return acquire(true, std::chrono::duration_cast<duration>(d));
  }
  template <class Clock, class Dur>
  bool try_lock_until(const std::chrono::time_point<Clock, Dur>& t) {
    auto left = t - Clock::now();
    return acquire(true, left.count() > 0 ? std::chrono::duration_cast<duration>(left)
                                          : duration::zero());
  }

  template <class Archive>
  void save(Archive& ar) const {
    ar(export_fd(segment_->fd()), static_cast<std::uint64_t>(offset_));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint32_t index = 0;
    std::uint64_t offset = 0;
    ar(index, offset);
    segment_ = import_segment(index);
    offset_ = static_cast<std::size_t>(offset);
  }

  /// A handle on the mutex at `offset` of `segment` (value<T>::get_lock()).
  basic_mutex(std::shared_ptr<shm_segment> segment, std::size_t offset) noexcept
    : segment_(std::move(segment)), offset_(offset) {}

protected:
  explicit basic_mutex(bool recursive);

private:
  void* native() const;

  std::shared_ptr<shm_segment> segment_;
  std::size_t offset_ = 0;
  bool owner_died_ = false;
};

} // namespace detail

/// Python's multiprocessing.Lock: one holder at a time, across processes.
/// - Blocks: acquire() and lock() until the lock is free (or the timeout).
/// - Throws: errc::not_owner on release() without holding it.
/// - Thread-safety: any thread may acquire; the thread that acquired
///   releases (it is a robust pthread mutex).
class mutex : public detail::basic_mutex {
public:
  /// A new, unlocked lock. (While a message is decoded: an empty placeholder.)
  mutex() : basic_mutex(false) {}
  using basic_mutex::basic_mutex;
};

/// Python's multiprocessing.RLock: the holder may acquire again; it is free
/// once released as many times. Same rules as mutex.
class recursive_mutex : public detail::basic_mutex {
public:
  recursive_mutex() : basic_mutex(true) {}
  using basic_mutex::basic_mutex;
};

/// Python's multiprocessing.Semaphore: `value` permits shared by processes.
/// Permits held by a process that dies are given back: the waiter that takes
/// one over sees owner_died(). Python keeps such permits forever.
/// - Blocks: acquire() while no permit is free (at most `timeout`); a dead
///   holder's permits are noticed within about 100 ms.
/// - Throws: errc::bad_argument from bounded_semaphore::release() above the
///   initial value, errc::system_error if more than 128 processes hold
///   permits at once.
/// - Thread- and process-safe.
class semaphore {
public:
  explicit semaphore(unsigned value = 1) : semaphore(value, false) {}

  /// Takes a permit; false on timeout (or at once with blocking = false).
  bool acquire(bool blocking = true, duration timeout = forever);
  /// Gives a permit back.
  void release();
  /// Free permits now (a snapshot).
  unsigned get_value() const;
  /// True if the last acquire() through this handle took back a permit that
  /// a dead process held.
  bool owner_died() const noexcept { return owner_died_; }

  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }

  template <class Archive>
  void save(Archive& ar) const {
    ar(detail::export_fd(segment_->fd()));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint32_t index = 0;
    ar(index);
    segment_ = detail::import_segment(index);
  }

protected:
  semaphore(unsigned value, bool bounded);

private:
  std::shared_ptr<detail::shm_segment> segment_;
  bool owner_died_ = false;
};

/// Python's BoundedSemaphore: release() above the initial value throws
/// errc::bad_argument ("released too many times").
class bounded_semaphore : public semaphore {
public:
  explicit bounded_semaphore(unsigned value = 1) : semaphore(value, true) {}
};

/// Python's multiprocessing.Event: a flag processes can wait for.
/// - Blocks: wait() until set (or the timeout). Never throws on timeout: it
///   returns false, as in Python.
/// - Thread-safe. Costs nothing while nobody waits (a futex word).
class event {
public:
  event();

  void set();
  void clear();
  bool is_set() const;
  /// Waits until the flag is set; false if `timeout` passed first.
  bool wait(duration timeout = forever) const;

  template <class Archive>
  void save(Archive& ar) const {
    ar(detail::export_fd(segment_->fd()));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint32_t index = 0;
    ar(index);
    segment_ = detail::import_segment(index);
  }

private:
  std::shared_ptr<detail::shm_segment> segment_;
};

} // namespace actors
