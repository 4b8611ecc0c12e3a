// Shared memory segments, robust process-shared mutexes, and futex events.

#include <actors/detail/channel.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/detail/target.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/detail/stats.hpp>
#include <actors/sync.hpp>

#include "base/fd.hpp"

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

using steady = std::chrono::steady_clock;

steady::time_point deadline_after(duration timeout) {
  return timeout == forever ? steady::time_point::max() : steady::now() + timeout;
}

// Sleeps while `*word` still equals `seen`, until a wake-up, `deadline`, or
// at most `slice` (waiters that re-check for dead processes use 100 ms).
void futex_sleep(std::atomic<std::uint32_t>* word, std::uint32_t seen,
                 steady::time_point deadline,
                 steady::duration slice = std::chrono::milliseconds(100)) {
  auto left = deadline == steady::time_point::max() ? slice
                                                     : std::min(deadline - steady::now(), slice);
  if (left < steady::duration::zero())
    left = steady::duration::zero();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec rel{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  futex(word, FUTEX_WAIT, seen, &rel);
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
  auto deadline = detail::deadline_after(timeout);
  while (w.load() == 0) {
    if (detail::steady::now() >= deadline)
      return false;
    // Returns at once if the word is no longer 0; nothing to re-check, so
    // the slice is long.
    detail::futex_sleep(&w, 0, deadline, std::chrono::hours(1));
  }
  return true;
}

// -- who is alive ----------------------------------------------------------------
//
// Semaphore holders, barrier parties and condition waiters are recorded by
// process (pid and start time, so a recycled pid is not mistaken for the
// process). gone() is the one test for a recorded process that died.

namespace detail {

namespace {

// The start time of `pid` (clock ticks since boot), or 0 if it is gone.
std::uint64_t start_time(int pid) {
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

me& myself() {
  static me m;
  if (m.pid != ::getpid()) { // first use, or after a fork
    m.pid = ::getpid();
    m.start = start_time(m.pid);
  }
  return m;
}

bool is_me(std::int32_t pid, std::uint64_t start) {
  return pid == myself().pid && start == myself().start;
}

// True if the process `pid` that started at `start` has died (or is a zombie).
bool gone(std::int32_t pid, std::uint64_t start) {
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
struct state_lock {
  pthread_mutex_t* m;
  explicit state_lock(const std::shared_ptr<shm_segment>& s)
    : m(reinterpret_cast<pthread_mutex_t*>(s->data())) {
    if (pthread_mutex_lock(m) == EOWNERDEAD)
      pthread_mutex_consistent(m);
  }
  ~state_lock() { pthread_mutex_unlock(m); }
};

} // namespace

} // namespace detail

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

constexpr int semaphore_slots = 128;

struct holder {
  std::int32_t pid;
  std::uint32_t held;
  std::uint64_t start; // start time, so a recycled pid is not mistaken for it
};

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
  auto& st = detail::state_of(segment_);
  auto deadline = detail::deadline_after(timeout);
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
  auto& st = detail::state_of(segment_);
  detail::state_lock hold(segment_);
  auto value = st.value + detail::dead_permits(st);
  return st.bounded ? std::min(value, st.initial) : value;
}

std::ostream& operator<<(std::ostream& os, const semaphore& s) {
  auto& st = detail::state_of(s.segment_);
  bool bounded = st.bounded != 0; // both are fixed at creation
  unsigned initial = st.initial;
  os << (bounded ? "<actors::bounded_semaphore value=" : "<actors::semaphore value=")
     << s.get_value();
  if (bounded)
    os << " max=" << initial;
  return os << '>';
}

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
  auto deadline = deadline_after(timeout);
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

// -- barriers -------------------------------------------------------------------
//
// Shared state under a robust mutex; waiters sleep on `seq`. Each waiting
// party is recorded (pid, start time). A waiting party that is gone breaks
// the barrier: waiters look every 100 ms, and wait(), broken() and
// n_waiting() look first, so a party that arrives after the death (even the
// last one) finds the barrier broken.

namespace detail {

namespace {

struct barrier_state {
  std::atomic<std::uint32_t> seq;
  std::uint32_t parties;
  std::uint32_t count;      // waiting in this generation
  std::uint32_t generation;
  std::uint32_t broken;
  std::uint32_t reset_gen;  // a generation that reset() broke (UINT32_MAX: none)
  std::int64_t timeout_ns;  // the barrier's default timeout; -1: none
  std::uint64_t action_offset;
  char action_module[256];  // "" and offset 0: no action
  char why[128];            // why it broke
  holder waiting[semaphore_slots];
};

barrier_state& bstate(const std::shared_ptr<shm_segment>& s) {
  return state_after_mutex<barrier_state>(s, "barrier");
}

void break_barrier(barrier_state& st, const std::string& why) {
  st.broken = 1;
  std::snprintf(st.why, sizeof st.why, "%s", why.c_str());
  st.seq.fetch_add(1);
  futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

[[noreturn]] void throw_broken(const barrier_state& st) {
  throw broken_barrier_error(std::string("the barrier is broken: ") + st.why);
}

// Breaks the barrier if a waiting party has died.
void look_for_dead_parties(barrier_state& st) {
  if (st.broken)
    return;
  for (auto& h : st.waiting)
    if (h.held && gone(h.pid, h.start)) {
      auto pid = h.pid;
      h = {};
      --st.count;
      break_barrier(st, "waiting party pid " + std::to_string(pid) + " died");
      return;
    }
}

} // namespace

} // namespace detail

barrier::barrier(unsigned parties, void (*action)(), duration timeout) {
  if (detail::decoding())
    return;
  if (parties == 0)
    throw error(errc::bad_argument, "barrier: parties must be at least 1");
  if (parties > detail::semaphore_slots)
    throw error(errc::bad_argument, "barrier: at most 128 parties");
  segment_ = std::make_shared<detail::shm_segment>(detail::mutex_bytes()
                                                   + sizeof(detail::barrier_state));
  detail::init_robust_mutex(segment_->data(), false);
  auto& st = detail::bstate(segment_);
  st.parties = parties;
  st.reset_gen = UINT32_MAX;
  st.timeout_ns = timeout == forever ? -1 : timeout.count();
  if (action) {
    auto where = detail::locate(reinterpret_cast<detail::any_fn>(action));
    if (where.module.size() >= sizeof st.action_module)
      throw error(errc::bad_argument, "barrier: the action's module path is too long");
    std::snprintf(st.action_module, sizeof st.action_module, "%s", where.module.c_str());
    st.action_offset = where.offset;
  }
}

unsigned barrier::wait() {
  auto ns = detail::bstate(segment_).timeout_ns;
  return wait(ns < 0 ? forever : duration(ns));
}

unsigned barrier::wait(duration timeout) {
  auto& st = detail::bstate(segment_);
  auto deadline = detail::deadline_after(timeout);
  auto& me = detail::myself();
  std::uint32_t gen, index;
  detail::holder* slot = nullptr;
  {
    detail::state_lock hold(segment_);
    detail::look_for_dead_parties(st);
    if (st.broken)
      detail::throw_broken(st);
    gen = st.generation;
    index = st.count++;
    if (st.count == st.parties) { // the last party: run the action, release all
      if (st.action_module[0] || st.action_offset) {
        auto fn = detail::resolve({st.action_module, st.action_offset});
        try {
          if (!fn)
            throw error(errc::target_not_found, "the barrier's action is not loaded here");
          fn();
        } catch (const std::exception& e) {
          --st.count;
          detail::break_barrier(st, std::string("its action threw: ") + e.what());
          throw;
        }
      }
      st.count = 0;
      ++st.generation;
      for (auto& h : st.waiting)
        h = {};
      st.seq.fetch_add(1);
      detail::futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
      return index;
    }
    for (auto& h : st.waiting)
      if (h.held == 0) {
        h = {me.pid, 1, me.start};
        slot = &h;
        break;
      }
  }
  for (;;) {
    auto seen = st.seq.load();
    {
      detail::state_lock hold(segment_);
      if (st.generation != gen) {
        if (st.reset_gen == gen)
          throw broken_barrier_error("the barrier is broken: reset() while parties were waiting");
        return index;
      }
      detail::look_for_dead_parties(st);
      if (st.broken) { // this party leaves
        if (slot)
          *slot = {};
        --st.count;
        detail::throw_broken(st);
      }
      if (detail::steady::now() >= deadline) {
        if (slot)
          *slot = {};
        --st.count;
        detail::break_barrier(st, "a wait() timed out");
        detail::throw_broken(st);
      }
    }
    detail::futex_sleep(&st.seq, seen, deadline);
  }
}

void barrier::reset() {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  if (st.count > 0) // current waiters find their generation was reset
    st.reset_gen = st.generation;
  st.count = 0;
  for (auto& h : st.waiting)
    h = {};
  ++st.generation;
  st.broken = 0;
  st.why[0] = '\0';
  st.seq.fetch_add(1);
  detail::futex(&st.seq, FUTEX_WAKE, INT_MAX, nullptr);
}

void barrier::abort() {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  detail::break_barrier(st, "abort()");
}

bool barrier::broken() const {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  detail::look_for_dead_parties(st);
  return st.broken != 0;
}

unsigned barrier::n_waiting() const {
  auto& st = detail::bstate(segment_);
  detail::state_lock hold(segment_);
  detail::look_for_dead_parties(st);
  return st.count;
}

unsigned barrier::parties() const {
  return detail::bstate(segment_).parties;
}

std::ostream& operator<<(std::ostream& os, const barrier& b) {
  os << "<actors::barrier parties=" << b.parties() << " waiting=" << b.n_waiting();
  if (b.broken())
    os << " broken";
  return os << '>';
}

std::ostream& operator<<(std::ostream& os, const event& e) {
  return os << (e.is_set() ? "<actors::event set>" : "<actors::event unset>");
}

std::ostream& operator<<(std::ostream& os, const mutex& m) {
  detail::describe_lock(os, m, false);
  return os;
}

std::ostream& operator<<(std::ostream& os, const recursive_mutex& m) {
  detail::describe_lock(os, m, true);
  return os;
}

} // namespace actors
