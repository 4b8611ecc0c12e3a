#pragma once
// A bounded queue's items in shared memory (ring.cpp). The owner's queue
// server creates the ring in an anonymous memfd and hands the descriptor to
// each client that attaches (server_requests.cpp); from then on puts and gets
// go straight through the ring, without the server. Never installed.
//
// Layout: a header page, then the data area, a circle of records (u32
// length, the encoded item, padding to 8 bytes).
// - Two robust process-shared mutexes: producers hold put_lock and move the
//   tail, consumers hold get_lock and move the head, so a producer and a
//   consumer never wait for each other's lock or take each other's cache
//   line for it. Every change ends with one aligned 64-bit store (the head
//   or the tail: item count and byte offset together), so a process killed
//   while it held a lock leaves the ring as it was before or after its
//   change, never between: a consumer killed in get() either took the item
//   or left it at the head, and maxsize is never exceeded, whoever dies.
//   Each side reads the other's end only when the copy it saw last leaves
//   no room (or no item); both ends only move forward, so an old copy is
//   a safe one.
// - Waiting: spin for a few microseconds (the other side is usually running
//   on the other core), then sleep on a futex word in slices
//   (recheck_slice), asking `alive` after each whether the owner still runs.
// - The owner: its server's loop thread holds a second robust mutex for as
//   long as it serves. The kernel marks that mutex when the thread dies, so a
//   client learns of a killed owner from one load, without a system call.
// - The data area starts at 64 KiB or more and grows (the memfd is extended,
//   every process remaps it) when an item does not fit in the empty ring, so
//   any item up to the frame cap goes through.
// - Joinable queues: items put minus task_done() calls is the unfinished
//   count. Each client has a record (its items taken and done), so the server
//   can tell, when a client's connection closes, that it died holding items.

#include <actors/detail/deadline.hpp>

#include "base/fd.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace actors::detail {

struct ring_header;

class ring {
public:
  /// What a put, get or join came to.
  enum class result { ok, timeout, shut_down, owner_gone, abandoned };

  /// Clients a ring keeps records for (the server refuses more).
  static constexpr int max_records = 128;

  /// The owner's side: a new ring for a queue of `maxsize` (> 0) items.
  /// Throws errc::system_error.
  ring(std::uint64_t maxsize, bool joinable);
  /// A client's side: maps the ring behind `fd`. Throws errc::bad_payload
  /// if it is not a ring.
  explicit ring(unique_fd fd);
  ~ring();
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  int fd() const noexcept { return fd_; }

  /// Whether a put or get waiting here spins before it sleeps (not on one
  /// CPU). For tests.
  static bool spins() noexcept;

  // -- clients (any thread, any process that mapped the ring) --

  /// Puts `item` unless the queue stays full until `deadline`. `alive` is
  /// asked while waiting whether the owner still serves the queue.
  result put(const char* item, std::size_t size, steady_time deadline,
             const std::function<bool()>& alive);
  /// Takes the item at the head into `out`; record `rec` (-1: none) counts
  /// it as taken.
  result get(std::string& out, steady_time deadline, const std::function<bool()>& alive, int rec);
  /// Marks one item done (joinable queues), in record `rec`.
  void task_done(int rec) noexcept;
  /// Waits until every item put was marked done. abandoned (with `why`) if
  /// a consumer died holding items since the last join.
  result join(steady_time deadline, const std::function<bool()>& alive, std::string& why);
  /// Shuts the queue down for every process; `immediate` drops the items (a
  /// joinable queue counts them done).
  void shutdown(bool immediate) noexcept;

  std::uint64_t size() const noexcept;
  bool is_shut_down() const noexcept;
  /// Whether an item can be taken now, or a get() would end at once
  /// (shut down and empty, or the owner gone): what a waiter watches for.
  bool get_would_return() const noexcept;
  /// False once the owner stopped serving the ring (or died).
  bool owner_alive() noexcept;
  /// Items put and taken since the start (for actors-top; they wrap at 2^32).
  std::uint32_t puts() const noexcept;
  std::uint32_t gets() const noexcept;
  /// Puts and gets asleep waiting for room or an item (for actors-top).
  std::uint32_t waiting_puts() const noexcept;
  std::uint32_t waiting_gets() const noexcept;

  /// Processes waiting for a wait() on the queue, whom the server answers
  /// when an item arrives (wire.hpp: watch). A put() that finds any pokes the
  /// server.
  std::atomic<std::uint32_t>& watchers() noexcept;

  // -- the owner's server --

  /// Marks the owner as serving; on the thread that serves the ring until
  /// close().
  void serve_from_this_thread();
  /// The owner stops serving: every call fails with owner_gone, waiters wake.
  void close() noexcept;
  /// A record for a client of process `pid`, or -1 if all are taken.
  int claim_record(int pid) noexcept;
  /// A client's connection closed: frees its record. If it had taken items it
  /// did not mark done, a joinable queue's next join() fails with the reason,
  /// which names the client as `who` ("pid 123", "pid 123 on host h2").
  void release_record(int rec, const char* who) noexcept;

private:
  void map_data(std::size_t cap);
  void remap_if_grown();
  bool grow(std::size_t need);
  void check_offsets(std::uint64_t head, std::uint64_t tail) const;
  void write_at(std::uint64_t pos, const char* p, std::size_t n) noexcept;
  void read_at(std::uint64_t pos, char* p, std::size_t n) const noexcept;
  template <class Ready>
  bool wait_until(std::atomic<std::uint32_t>& seq, std::atomic<std::uint32_t>& waiters,
                  Ready ready, steady_time deadline, const std::function<bool()>& alive);

  int fd_ = -1;
  ring_header* h_ = nullptr;
  char* data_ = nullptr;
  std::size_t mapped_ = 0; // bytes of the data area this process maps
};

} // namespace actors::detail
