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
///
/// Across hosts of a cluster (docs/cluster.md): a mutex, recursive_mutex,
/// semaphore or event passed to an actor on another host, in the arguments
/// of spawn(on_host) or of a tell/ask, arrives as a far handle. Each of its
/// calls is an ask to a coordinator actor in the process that sent it
/// (which must stay alive; else calls throw eof_error), and local users of
/// the same object are excluded as usual. A far waiter is retried every
/// millisecond; a far holder whose process or host dies gives back what it
/// held. Conditions and barriers do not cross hosts (errc::bad_argument).

#include <actors/detail/channel.hpp>
#include <actors/detail/remote_sync.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/detail/shm.hpp>
#include <actors/time.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <type_traits>

namespace actors {

namespace detail {

class basic_mutex;

/// Writes `<actors::KIND ...>` for operator<< (src/sync/mutex.cpp).
void describe_lock(std::ostream& os, const basic_mutex& m, bool recursive);

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

  /// If the lock's holder died holding it, takes the lock over (this thread
  /// holds it afterwards, owner_died() is true) and returns true. For
  /// condition waiters, whom nobody else would wake.
  bool take_over_from_dead_holder();

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
    save_sync(ar, far_, segment_, offset_, sync_kind::mutex);
  }
  template <class Archive>
  void load(Archive& ar) {
    load_sync(ar, far_, segment_, offset_);
  }

  /// A handle on the mutex at `offset` of `segment` (value<T>::get_lock()).
  basic_mutex(std::shared_ptr<shm_segment> segment, std::size_t offset) noexcept
    : segment_(std::move(segment)), offset_(offset) {}

protected:
  explicit basic_mutex(bool recursive);

private:
  friend void describe_lock(std::ostream& os, const basic_mutex& m, bool recursive);
  void* native() const;
  void recover_from_dead_holder(void* native_mutex);

  std::shared_ptr<shm_segment> segment_;
  std::size_t offset_ = 0;
  std::shared_ptr<far_sync> far_; // on another host: its coordinator
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

/// Python's repr of a Lock or RLock: `<actors::mutex unlocked>`,
/// `<actors::mutex locked by pid 123>`, `<actors::recursive_mutex locked by
/// pid 123, count=2>`, or `locked by a thread that died` (the next acquire()
/// takes it over). A snapshot, read without taking the lock; thread-safe.
/// Throws errc::closed on a handle not attached to shared memory.
std::ostream& operator<<(std::ostream& os, const mutex& m);
std::ostream& operator<<(std::ostream& os, const recursive_mutex& m);

/// Python's multiprocessing.Semaphore: `value` permits shared by processes.
/// Permits held by a process that dies (exits or is killed without
/// release()) are given back: get_value() counts them as free at once, and
/// the acquire() that takes them back sees owner_died(). Python keeps such
/// permits forever.
/// - Blocks: acquire() while no permit is free (at most `timeout`); a dead
///   holder's permits are noticed within about 100 ms.
/// - Throws: errc::bad_argument from bounded_semaphore::release() above the
///   initial value; errc::system_error from acquire() if 128 live processes
///   hold permits already (processes that died do not count).
/// - Thread- and process-safe.
class semaphore : public detail::segment_handle {
public:
  explicit semaphore(unsigned value = 1) : semaphore(value, false) {}

  /// Takes a permit; false on timeout (or at once with blocking = false).
  bool acquire(bool blocking = true, duration timeout = forever);
  /// Gives a permit back.
  void release();
  /// Free permits now (a snapshot), counting those that dead processes held.
  unsigned get_value() const;
  /// True if the last acquire() through this handle took back permits that
  /// dead processes held: what they guard may be half-updated.
  bool owner_died() const noexcept { return owner_died_; }

  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }

  template <class Archive>
  void save(Archive& ar) const {
    detail::save_sync(ar, far_, segment_, 0, detail::sync_kind::semaphore);
  }
  template <class Archive>
  void load(Archive& ar) {
    std::size_t offset = 0;
    detail::load_sync(ar, far_, segment_, offset);
  }

protected:
  semaphore(unsigned value, bool bounded);

private:
  friend std::ostream& operator<<(std::ostream& os, const semaphore& s);
  friend struct detail::sync_access;
  std::shared_ptr<detail::far_sync> far_; // on another host: its coordinator
  bool owner_died_ = false;
};

/// Python's BoundedSemaphore: release() above the initial value throws
/// errc::bad_argument ("released too many times").
class bounded_semaphore : public semaphore {
public:
  explicit bounded_semaphore(unsigned value = 1) : semaphore(value, true) {}
};

/// Python's repr: `<actors::semaphore value=3>`, `<actors::bounded_semaphore
/// value=1 max=2>`. The value counts permits that dead holders left, as
/// get_value() does. A snapshot; thread-safe.
std::ostream& operator<<(std::ostream& os, const semaphore& s);

/// Python's multiprocessing.Condition, on a mutex or recursive_mutex.
/// - wait() releases the lock, sleeps until notified (or the timeout), and
///   takes the lock back before it returns; call it with the lock held.
/// - notify(n) wakes at most n of the threads waiting when it is called,
///   oldest first, notify_all() all of them. A thread that starts waiting
///   later is never woken by it. Waiters whose process died are skipped.
/// - If the lock's holder dies, the waiters wake up (they take the lock
///   over, and the lock's owner_died() says so) instead of sleeping forever.
/// - Throws: errc::not_owner from wait() without the lock; errc::system_error
///   from wait() if 256 threads and processes wait on it already.
template <class Lock = mutex>
class condition;

namespace detail {

/// The shared part of a condition: a record per waiter, and a futex word.
class condition_core : public segment_handle {
public:
  condition_core();
  /// Records the caller as a waiter and returns its place. Called with the
  /// lock still held, so a notify() right after the lock is released wakes
  /// it, and one before does not.
  unsigned enter();
  /// Sleeps up to `timeout` (after enter(), with the lock released) and
  /// gives the place up; true if notified, or when `dead_holder()` says
  /// nobody will notify.
  bool sleep(unsigned place, duration timeout, const std::function<bool()>& dead_holder);
  void notify(unsigned n);
  void notify_all();
  /// Threads and processes waiting and not yet notified (a snapshot).
  unsigned waiting() const;
};

/// Writes `<actors::condition on LOCK, waiting=N>` for operator<<.
void describe_condition(std::ostream& os, const basic_mutex& lock, bool recursive,
                        const condition_core& core);

} // namespace detail

template <class Lock>
class condition {
public:
  /// A condition with its own new lock.
  condition() = default;
  /// A condition on `lock` (shared with it, as in Python).
  explicit condition(Lock lock) : lock_(std::move(lock)) {}

  /// Waits for notify(); false if `timeout` passed first. The lock is held
  /// again when it returns, either way.
  bool wait(duration timeout = forever) {
    auto place = core_.enter();
    try {
      lock_.release(); // throws not_owner without the lock
    } catch (...) {
      core_.sleep(place, duration::zero(), {}); // leave the waiters again
      throw;
    }
    bool taken_over = false;
    bool woken = core_.sleep(place, timeout, [this, &taken_over] {
      return taken_over = lock_.take_over_from_dead_holder();
    });
    if (!taken_over)
      lock_.acquire();
    return woken;
  }

  /// Waits until `pred()` is true (checked with the lock held); returns its
  /// last value, false if `timeout` passed first.
  template <class Pred>
  bool wait_for(Pred pred, duration timeout = forever) {
    using clock = std::chrono::steady_clock;
    auto deadline = timeout == forever ? clock::time_point::max() : clock::now() + timeout;
    while (!pred()) {
      auto now = clock::now();
      if (now >= deadline)
        return pred();
      wait(timeout == forever ? forever
                              : std::chrono::duration_cast<duration>(deadline - now));
    }
    return true;
  }

  void notify(unsigned n = 1) { core_.notify(n); }
  void notify_all() { core_.notify_all(); }

  // The lock: condition is itself Lockable, like Python's.
  bool acquire(bool blocking = true, duration timeout = forever) {
    return lock_.acquire(blocking, timeout);
  }
  void release() { lock_.release(); }
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  bool try_lock() { return lock_.try_lock(); }
  Lock& get_lock() noexcept { return lock_; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(lock_, core_);
  }

  /// Python's repr: `<actors::condition on <actors::mutex unlocked>,
  /// waiting=0>`, the lock as its own operator<< prints it, and the waiters
  /// not yet notified. A snapshot; thread-safe.
  friend std::ostream& operator<<(std::ostream& os, const condition& c) {
    detail::describe_condition(os, c.lock_, std::is_same_v<Lock, recursive_mutex>, c.core_);
    return os;
  }

private:
  Lock lock_;
  detail::condition_core core_;
};

/// Python's multiprocessing.Barrier: `parties` processes (or threads) wait
/// until all have arrived, then all go on together.
/// - wait() returns this party's arrival index (0 ... parties-1). The last to
///   arrive runs `action` first, if there is one.
/// - Throws broken_barrier_error when the barrier is or becomes broken: by
///   abort(), by reset() while parties wait, by a wait() that times out, by
///   an action that throws, or when a party dies while it waits (Python's
///   other waiters hang). Parties already waiting notice the death within
///   about 100 ms; a later wait() (even the last party's: the action does
///   not run), broken() or n_waiting() sees it at once.
/// - `action` is a free function or captureless lambda; it runs in whichever
///   process arrives last, found there like a process target.
class barrier : public detail::segment_handle {
public:
  explicit barrier(unsigned parties = 1, void (*action)() = nullptr, duration timeout = forever);

  /// Waits for the other parties (at most `timeout`; default: the
  /// barrier's own timeout).
  unsigned wait();
  unsigned wait(duration timeout);
  /// Breaks the barrier for current waiters, then makes it usable again.
  void reset();
  /// Breaks the barrier: current and future waits throw until reset().
  void abort();
  bool broken() const;
  unsigned n_waiting() const;
  unsigned parties() const;
};

/// Python's repr: `<actors::barrier parties=3 waiting=1>`, with ` broken`
/// at the end while it is broken. A snapshot; thread-safe.
std::ostream& operator<<(std::ostream& os, const barrier& b);

/// Python's multiprocessing.Event: a flag processes can wait for.
/// - Blocks: wait() until set (or the timeout). Never throws on timeout: it
///   returns false, as in Python.
/// - Thread-safe. Costs nothing while nobody waits (a futex word).
class event : public detail::segment_handle {
public:
  event();

  void set();
  void clear();
  bool is_set() const;
  /// Waits until the flag is set; false if `timeout` passed first.
  bool wait(duration timeout = forever) const;

  template <class Archive>
  void save(Archive& ar) const {
    detail::save_sync(ar, far_, segment_, 0, detail::sync_kind::event);
  }
  template <class Archive>
  void load(Archive& ar) {
    std::size_t offset = 0;
    detail::load_sync(ar, far_, segment_, offset);
  }

private:
  friend struct detail::sync_access;
  std::shared_ptr<detail::far_sync> far_; // on another host: its coordinator
};

/// `<actors::event set>` or `<actors::event unset>`. A snapshot; thread-safe.
std::ostream& operator<<(std::ostream& os, const event& e);

} // namespace actors
