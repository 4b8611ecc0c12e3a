// A bounded queue's ring in shared memory; see ring.hpp for the design.

#include "queue/ring.hpp"

#include <actors/detail/shm.hpp>
#include <actors/errors.hpp>

#include "base/fd.hpp"
#include "base/futex.hpp"
#include "base/robust_lock.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace actors::detail {

namespace {

constexpr std::uint32_t ring_magic = 0x676e6972; // "ring"
constexpr std::size_t header_bytes = 8192;       // page-aligned: the data is mapped after it
constexpr std::uint64_t max_cap = std::uint64_t{1} << 32; // offsets are 32-bit
constexpr std::uint32_t flag_shut = 1;
constexpr std::uint32_t flag_closed = 2;
// The kernel's robust-futex word (linux/futex.h): the owner's thread id, and
// the bit it sets when that thread dies holding the lock.
constexpr std::uint32_t tid_mask = 0x3fffffff;
constexpr std::uint32_t owner_died = 0x40000000;
// How long a waiter spins before it sleeps, and how often a locker tries
// before it sleeps. A partner that runs on the other core frees a slot or
// puts an item within a microsecond or two; a sleep and its wake-up cost
// ~14 us on this project's 2-core VMs. Measured with 1 to 4 producers and
// consumers (docs/performance.md): longer spins only burn the core that
// the partner needs when processes outnumber cores.
constexpr auto spin_for = std::chrono::microseconds(10);
constexpr int lock_spins = 20;

// The head and the tail: items counted since the start, and a byte offset
// into the data area, in one word that a single store commits.
constexpr std::uint64_t pack(std::uint32_t items, std::uint64_t pos) {
  return (std::uint64_t{items} << 32) | pos;
}
constexpr std::uint32_t items_of(std::uint64_t w) { return static_cast<std::uint32_t>(w >> 32); }
constexpr std::uint64_t pos_of(std::uint64_t w) { return w & 0xffffffffu; }

// A record: u32 length, the bytes, padding to 8.
constexpr std::size_t record_bytes(std::size_t n) { return (4 + n + 7) & ~std::size_t{7}; }

} // namespace

struct ring_record {
  std::atomic<std::int32_t> pid;
  std::atomic<std::uint64_t> taken;
  std::atomic<std::uint64_t> done;
};

struct ring_header {
  // Two locks: producers take put_lock and move the tail, consumers take
  // get_lock and move the head, so a producer and a consumer never wait for
  // each other (a growth takes both, put_lock first). Each side's line holds
  // its lock, its end, and its last look at the other end: a producer reads
  // the real head only when the one it saw leaves no room, a consumer the
  // real tail only when the one it saw leaves no item. Both ends only move
  // forward, so an old look is a safe one (less room, fewer items).
  pthread_mutex_t put_lock; // guards tail and head_seen (and, with get_lock, cap)
  std::atomic<std::uint64_t> tail;
  std::atomic<std::uint64_t> head_seen;
  alignas(64) pthread_mutex_t get_lock; // guards head, tail_seen, records and why
  std::atomic<std::uint64_t> head;
  std::atomic<std::uint64_t> tail_seen;
  // The waiters' words: their count, and in the top bit whether a wake-up
  // is on its way (wakers make no other system call until a waiter runs and
  // clears it). Written only by waiters that sleep: read-mostly.
  alignas(64) std::atomic<std::uint32_t> get_waiters;
  std::atomic<std::uint32_t> put_waiters;
  alignas(64) pthread_mutex_t owner; // held by the owner's serving thread
  std::uint32_t magic;
  std::int32_t owner_tid;
  std::uint64_t maxsize;
  std::uint32_t joinable;
  std::atomic<std::uint64_t> cap; // bytes of the data area
  std::atomic<std::uint32_t> flags;
  // The futex words waiters sleep on, bumped when what they wait for may
  // have come.
  alignas(64) std::atomic<std::uint32_t> items_seq;
  alignas(64) std::atomic<std::uint32_t> room_seq;
  alignas(64) std::atomic<std::uint32_t> done_seq;
  std::atomic<std::uint32_t> join_waiters;
  std::atomic<std::uint32_t> done; // task_done() calls and dropped items
  std::atomic<std::uint32_t> watchers;
  std::atomic<std::uint32_t> abandoned; // why holds the reason
  char why[160];
  ring_record records[ring::max_records];
};

static_assert(sizeof(ring_header) <= header_bytes, "the ring's header outgrew its page");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared atomics must be lock-free");

namespace {

// Holds one of the ring's locks, trying a few times first (robust_lock.hpp).
// A holder that died left the state as before or after its change
// (ring.hpp), so it is usable as it is.
struct held : robust_lock {
  explicit held(pthread_mutex_t* m) : robust_lock(m, lock_spins) {}
};

constexpr std::uint32_t wake_pending = 0x80000000u;

// Wakes one waiter on `seq`, if any waits and no wake-up is on its way
// already: one item or one slot serves one waiter, and a waiter that gets
// one leaves more for the next (ring::put and ring::get chain the wake-ups).
// The count and the pending bit change in one word, so a waiter that leaves
// as a wake-up is sent never leaves the bit set with nobody to clear it.
void wake_one(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& waiters) {
  auto w = waiters.load();
  do {
    if ((w & ~wake_pending) == 0 || (w & wake_pending))
      return;
  } while (!waiters.compare_exchange_weak(w, w | wake_pending));
  seq.fetch_add(1);
  futex(&seq, FUTEX_WAKE, 1, nullptr);
}

// A waiter leaves: one fewer, and the next wake-up may go out (at worst one
// too many, never one too few).
void leave(std::atomic<std::uint32_t>& waiters) {
  auto w = waiters.load();
  while (!waiters.compare_exchange_weak(w, (w - 1) & ~wake_pending)) {
  }
}

} // namespace

ring::ring(std::uint64_t maxsize, bool joinable) {
  auto cap = std::clamp<std::uint64_t>(maxsize * 256, 64 * 1024, 4 * 1024 * 1024);
  cap = (cap + 4095) / 4096 * 4096;
  fd_ = memfd_of_size("actors-queue", header_bytes + cap).release();
  void* p = ::mmap(nullptr, header_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    ::close(fd_);
    throw_errno("mmap (queue)");
  }
  h_ = static_cast<ring_header*>(p); // zero-filled: every counter starts at 0
  init_robust_mutex(&h_->put_lock, false);
  init_robust_mutex(&h_->get_lock, false);
  init_robust_mutex(&h_->owner, false);
  h_->maxsize = maxsize;
  h_->joinable = joinable ? 1 : 0;
  h_->cap.store(cap);
  map_data(cap);
  h_->magic = ring_magic;
}

ring::ring(unique_fd fd) : fd_(fd.release()) {
  struct stat st {};
  void* p = MAP_FAILED;
  if (::fstat(fd_, &st) == 0 && static_cast<std::size_t>(st.st_size) > header_bytes)
    p = ::mmap(nullptr, header_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED || static_cast<ring_header*>(p)->magic != ring_magic) {
    if (p != MAP_FAILED)
      ::munmap(p, header_bytes);
    ::close(fd_);
    throw error(errc::bad_payload, "the queue's shared memory that arrived is not a queue ring");
  }
  h_ = static_cast<ring_header*>(p);
  held l(&h_->get_lock); // cap changes under both locks
  map_data(h_->cap.load());
}

ring::~ring() {
  if (data_)
    ::munmap(data_, mapped_);
  if (h_)
    ::munmap(h_, header_bytes);
  if (fd_ >= 0)
    ::close(fd_);
}

bool ring::spins() noexcept {
  static const bool many = ::sysconf(_SC_NPROCESSORS_ONLN) > 1;
  return many;
}

void ring::map_data(std::size_t cap) {
  void* p = data_ ? ::mremap(data_, mapped_, cap, MREMAP_MAYMOVE)
                  : ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, header_bytes);
  if (p == MAP_FAILED)
    throw_errno("mmap (queue data)");
  data_ = static_cast<char*>(p);
  mapped_ = cap;
}

// Under either lock: another process grew the data area.
void ring::remap_if_grown() {
  auto cap = h_->cap.load();
  if (cap != mapped_)
    map_data(cap);
}

// Under both locks, with the ring empty: makes the data area big enough for a
// record of `need` bytes, the next power of two above it. (Room for four
// such records measured slower for 1 MiB items, 2.2 against 2.9 GiB/s:
// more fresh pages, and a circle that no longer stays in the cache.) The
// offsets go back to 0 before the new size is published, so a holder that
// dies in between leaves a usable ring.
bool ring::grow(std::size_t need) {
  std::uint64_t cap = mapped_;
  while (cap <= need && cap < max_cap)
    cap *= 2;
  cap = std::min(cap, max_cap);
  if (cap <= need)
    return false;
  if (::ftruncate(fd_, static_cast<off_t>(header_bytes + cap)) != 0)
    throw_errno("ftruncate (queue data)");
  map_data(cap);
  h_->head.store(pack(items_of(h_->head.load()), 0));
  h_->tail.store(pack(items_of(h_->tail.load()), 0));
  h_->head_seen.store(h_->head.load());
  h_->tail_seen.store(h_->tail.load());
  h_->cap.store(cap);
  return true;
}

void ring::check_offsets(std::uint64_t head, std::uint64_t tail) const {
  if (pos_of(head) >= mapped_ || pos_of(tail) >= mapped_)
    throw error(errc::bad_payload, "a queue's shared memory holds offsets outside its data");
}

void ring::write_at(std::uint64_t pos, const char* p, std::size_t n) noexcept {
  auto first = std::min<std::size_t>(n, mapped_ - pos);
  std::memcpy(data_ + pos, p, first);
  std::memcpy(data_, p + first, n - first);
}

void ring::read_at(std::uint64_t pos, char* p, std::size_t n) const noexcept {
  auto first = std::min<std::size_t>(n, mapped_ - pos);
  std::memcpy(p, data_ + pos, first);
  std::memcpy(p + first, data_, n - first);
}

// Waits until ready() (true), the owner is gone (false), `deadline`, or a
// wake-up on `seq` (true: the caller looks again under the lock).
template <class Ready>
bool ring::wait_until(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& waiters,
                      Ready ready, steady_time deadline, const std::function<bool()>& alive) {
  if (spins()) {
    auto until = std::min(deadline, steady::now() + spin_for);
    for (unsigned i = 1;; ++i) {
      if (ready())
        return true;
      cpu_relax();
      if (i % 64 == 0 && steady::now() >= until)
        break;
    }
  }
  waiters.fetch_add(1);
  auto seen = seq.load();
  bool gone = false;
  if (!ready()) {
    gone = !owner_alive() || (alive && !alive());
    if (!gone && steady::now() < deadline)
      futex_sleep(&seq, seen, deadline);
  }
  leave(waiters);
  // Leaving at the deadline with what it waited for there: another waiter
  // may have slept through the one wake-up that came for it.
  if (!gone && steady::now() >= deadline && ready())
    wake_one(seq, waiters);
  return !gone;
}

bool ring::owner_alive() noexcept {
  if (h_->flags.load(std::memory_order_relaxed) & flag_closed)
    return false;
  // glibc keeps the futex word first in pthread_mutex_t: one load tells the
  // serving thread is there. Anything else asks the mutex itself.
  auto word = reinterpret_cast<std::atomic<std::uint32_t>*>(&h_->owner)->load(std::memory_order_relaxed);
  if ((word & tid_mask) == static_cast<std::uint32_t>(h_->owner_tid) && !(word & owner_died))
    return true;
  int r = pthread_mutex_trylock(&h_->owner);
  if (r == EBUSY)
    return true;
  // The owner died (EOWNERDEAD: this thread holds the lock now) or let go
  // of it: the queue is closed for everyone. The lock is let go at once: a
  // robust mutex a thread holds is on that thread's robust list, which must
  // not point into memory this process unmaps later.
  if (r == EOWNERDEAD)
    pthread_mutex_consistent(&h_->owner);
  if (r == 0 || r == EOWNERDEAD)
    pthread_mutex_unlock(&h_->owner);
  h_->flags.fetch_or(flag_closed);
  futex_wake_all(&h_->items_seq);
  futex_wake_all(&h_->room_seq);
  futex_wake_all(&h_->done_seq);
  return false;
}

namespace {

// The items in the ring and the bytes they use, from a head and a tail.
struct ring_fill {
  std::uint32_t count;
  std::uint64_t used;
};

ring_fill fill_of(std::uint64_t head, std::uint64_t tail, std::uint64_t cap) {
  std::uint32_t count = items_of(tail) - items_of(head);
  return {count, count == 0 ? 0 : (pos_of(tail) + cap - pos_of(head)) % cap};
}

} // namespace

ring::result ring::put(const char* item, std::size_t size, steady_time deadline,
                       const std::function<bool()>& alive) {
  const std::size_t need = record_bytes(size);
  bool stored = false, room_left = false;
  for (;;) {
    if (!owner_alive())
      return result::owner_gone;
    {
      held l(&h_->put_lock);
      if (h_->flags.load() & flag_shut)
        return result::shut_down;
      remap_if_grown();
      auto tail = h_->tail.load(std::memory_order_relaxed); // only this lock's holder moves it
      auto head = h_->head_seen.load(std::memory_order_relaxed);
      // Strictly less: a ring filled to the last byte would look empty. An
      // item whose bytes do not fit waits as if the queue were full.
      auto fits = [&](const ring_fill& f) {
        return f.count < h_->maxsize && (f.count == 0 || need < mapped_ - f.used);
      };
      auto f = fill_of(head, tail, mapped_);
      if (!fits(f)) { // look at the real head: consumers may have moved it
        head = h_->head.load(std::memory_order_acquire);
        h_->head_seen.store(head, std::memory_order_relaxed);
        f = fill_of(head, tail, mapped_);
      }
      check_offsets(head, tail);
      if (f.count == 0 && need >= mapped_) {
        // Empty (the head cannot pass the tail), and too small for the item.
        held g(&h_->get_lock);
        if (!grow(need))
          throw error(errc::frame_too_large, "queue item of " + std::to_string(size)
                                               + " bytes does not fit a queue's shared memory");
        tail = h_->tail.load(); // back at offset 0 (and the head too: empty)
        head = tail;
        f = fill_of(head, tail, mapped_);
      }
      if (fits(f)) {
        auto len = static_cast<std::uint32_t>(size);
        write_at(pos_of(tail), reinterpret_cast<const char*>(&len), 4);
        write_at((pos_of(tail) + 4) % mapped_, item, size);
        h_->tail.store(pack(items_of(tail) + 1, (pos_of(tail) + need) % mapped_));
        stored = true;
        room_left = f.count + 1 < h_->maxsize;
        if (!room_left) { // for the chain below, the real head
          head = h_->head.load(std::memory_order_acquire);
          h_->head_seen.store(head, std::memory_order_relaxed);
          room_left = items_of(tail) + 1 - items_of(head) < h_->maxsize;
        }
      }
    }
    if (stored)
      break;
    if (steady::now() >= deadline)
      return result::timeout;
    auto room = [&] {
      if (h_->flags.load() & (flag_shut | flag_closed))
        return true;
      auto cap = h_->cap.load();
      auto f = fill_of(h_->head.load(), h_->tail.load(), cap);
      return f.count < h_->maxsize && (f.count == 0 || need < cap - f.used);
    };
    if (!wait_until(h_->room_seq, h_->put_waiters, room, deadline, alive))
      return result::owner_gone;
  }
  wake_one(h_->items_seq, h_->get_waiters);
  if (room_left) // the chain: another producer may put too
    wake_one(h_->room_seq, h_->put_waiters);
  return result::ok;
}

ring::result ring::get(std::string& out, steady_time deadline, const std::function<bool()>& alive,
                       int rec) {
  bool items_left = false;
  for (;;) {
    if (!owner_alive())
      return result::owner_gone;
    {
      held l(&h_->get_lock);
      remap_if_grown();
      auto head = h_->head.load(std::memory_order_relaxed); // only this lock's holder moves it
      auto tail = h_->tail_seen.load(std::memory_order_relaxed);
      if (items_of(tail) == items_of(head)) { // look at the real tail
        tail = h_->tail.load(std::memory_order_acquire);
        h_->tail_seen.store(tail, std::memory_order_relaxed);
      }
      check_offsets(head, tail);
      auto f = fill_of(head, tail, mapped_);
      if (f.count > 0) {
        std::uint32_t len = 0;
        read_at(pos_of(head), reinterpret_cast<char*>(&len), 4);
        if (record_bytes(len) > f.used)
          throw error(errc::bad_payload, "a queue's shared memory holds a malformed record");
        out.resize(len);
        read_at((pos_of(head) + 4) % mapped_, out.data(), len);
        auto next = pack(items_of(head) + 1, (pos_of(head) + record_bytes(len)) % mapped_);
        h_->head.store(next);
        items_left = f.count > 1;
        if (!items_left) { // for the chain below, the real tail
          tail = h_->tail.load(std::memory_order_acquire);
          h_->tail_seen.store(tail, std::memory_order_relaxed);
          items_left = items_of(tail) != items_of(next);
        }
        if (rec >= 0 && rec < max_records)
          h_->records[rec].taken.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      if (h_->flags.load() & flag_shut)
        return result::shut_down;
    }
    if (steady::now() >= deadline)
      return result::timeout;
    auto some = [&] { return get_would_return(); };
    if (!wait_until(h_->items_seq, h_->get_waiters, some, deadline, alive))
      return result::owner_gone;
  }
  wake_one(h_->room_seq, h_->put_waiters);
  if (items_left) // the chain: another consumer may take one too
    wake_one(h_->items_seq, h_->get_waiters);
  return result::ok;
}

void ring::task_done(int rec) noexcept {
  if (rec >= 0 && rec < max_records)
    h_->records[rec].done.fetch_add(1, std::memory_order_relaxed);
  auto done = h_->done.fetch_add(1) + 1;
  if (items_of(h_->tail.load()) == done)
    if (h_->join_waiters.load() > 0) {
      h_->done_seq.fetch_add(1);
      futex_wake_all(&h_->done_seq);
    }
}

ring::result ring::join(steady_time deadline, const std::function<bool()>& alive, std::string& why) {
  for (;;) {
    if (!owner_alive())
      return result::owner_gone;
    // Read before `abandoned`: a client's lost items are counted done after
    // the reason is set, so a join that sees them done sees why too.
    bool finished_now = items_of(h_->tail.load()) == h_->done.load();
    if (h_->abandoned.load()) {
      held l(&h_->get_lock);
      if (h_->abandoned.exchange(0)) {
        why = h_->why;
        return result::abandoned;
      }
    }
    auto finished = [&] {
      return h_->abandoned.load() || (h_->flags.load() & flag_closed)
             || items_of(h_->tail.load()) == h_->done.load();
    };
    if (finished_now)
      return result::ok;
    if (steady::now() >= deadline)
      return result::timeout;
    if (!wait_until(h_->done_seq, h_->join_waiters, finished, deadline, alive))
      return result::owner_gone;
  }
}

void ring::shutdown(bool immediate) noexcept {
  {
    // Both locks: no put that looked at the flag before it is set may add an
    // item after the immediate drop.
    held p(&h_->put_lock);
    held l(&h_->get_lock);
    h_->flags.fetch_or(flag_shut);
    if (immediate) {
      auto head = h_->head.load(), tail = h_->tail.load();
      std::uint32_t dropped = items_of(tail) - items_of(head);
      h_->head.store(tail);
      h_->tail_seen.store(tail);
      if (h_->joinable)
        h_->done.fetch_add(dropped);
    }
  }
  futex_wake_all(&h_->items_seq);
  futex_wake_all(&h_->room_seq);
  futex_wake_all(&h_->done_seq);
}

std::uint64_t ring::size() const noexcept {
  // The tail first: the head only grows, so a head read later can only
  // make the count smaller (never above maxsize), or pass the tail read
  // (then the queue was empty at some point: 0).
  auto tail = h_->tail.load(), head = h_->head.load();
  auto n = static_cast<std::int32_t>(items_of(tail) - items_of(head));
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

bool ring::is_shut_down() const noexcept {
  return (h_->flags.load() & flag_shut) != 0;
}

bool ring::get_would_return() const noexcept {
  return (h_->flags.load() & (flag_shut | flag_closed)) != 0 || size() > 0;
}

std::uint32_t ring::puts() const noexcept {
  return items_of(h_->tail.load());
}

std::uint32_t ring::gets() const noexcept {
  return items_of(h_->head.load());
}

std::uint32_t ring::waiting_puts() const noexcept {
  return h_->put_waiters.load() & ~wake_pending;
}

std::uint32_t ring::waiting_gets() const noexcept {
  return h_->get_waiters.load() & ~wake_pending;
}

std::atomic<std::uint32_t>& ring::watchers() noexcept {
  return h_->watchers;
}

void ring::serve_from_this_thread() {
  if (pthread_mutex_lock(&h_->owner) == EOWNERDEAD)
    pthread_mutex_consistent(&h_->owner);
  h_->owner_tid = static_cast<std::int32_t>(::syscall(SYS_gettid));
}

void ring::close() noexcept {
  h_->flags.fetch_or(flag_closed);
  (void) pthread_mutex_unlock(&h_->owner); // (EPERM off the serving thread)
  futex_wake_all(&h_->items_seq);
  futex_wake_all(&h_->room_seq);
  futex_wake_all(&h_->done_seq);
}

int ring::claim_record(int pid) noexcept {
  held l(&h_->get_lock);
  for (int i = 0; i < max_records; ++i)
    if (h_->records[i].pid.load() == 0) {
      h_->records[i].taken.store(0);
      h_->records[i].done.store(0);
      h_->records[i].pid.store(pid);
      return i;
    }
  return -1;
}

void ring::release_record(int rec, const char* who) noexcept {
  if (rec < 0 || rec >= max_records)
    return;
  {
    held l(&h_->get_lock);
    auto& r = h_->records[rec];
    auto taken = r.taken.load(), done = r.done.load();
    if (h_->joinable && taken > done) {
      auto lost = taken - done;
      std::snprintf(h_->why, sizeof h_->why,
                    "consumer %s died holding %llu unfinished item(s) of this queue", who,
                    static_cast<unsigned long long>(lost));
      h_->abandoned.store(1);
      h_->done.fetch_add(static_cast<std::uint32_t>(lost)); // after: see join()
    }
    r.pid.store(0);
  }
  futex_wake_all(&h_->done_seq);
}

} // namespace actors::detail
