#pragma once
// The queue's wire: the operation codes, sizes and payload helpers that the
// server (server.cpp) and the client (client.cpp) share. Never installed.
//
// Queues: a server in the node that creates them, clients everywhere else.
//
// Server. The node's service loop (io/service_loop.hpp) serves a listening
// Unix socket (in a private 0700 directory, peers checked with SO_PEERCRED)
// and every client connection. All queue state is touched only by that
// loop's thread: it is an actor in all but name, driven by the frames it receives.
// Items are kept as the bytes the producer encoded; the server never decodes
// them. The loop reads into each connection's buffer directly, and sends the
// items of a get reply from where they are held when they are big. It does
// not busy-poll (set_busy_poll): spinning here measured slower round trips
// on a 2-core machine (16-32 us against 13-14 us for qsize()).
//
// Client. A process holds up to three connections per unbounded queue: one
// for puts (batched), one for gets (fetching small batches, acknowledging
// what get() returned), one for size/join requests. A flush timer on the
// node's service loop (no thread of its own) sends batches that are older
// than ~200 microseconds, without ever blocking: that loop may be the one
// that serves the socket, so what a full socket does not take waits in the
// client and goes first on the next write there. An item of 64 KiB or more
// is sent as a batch of its own, from the item.
//
// Bounded queues (maxsize > 0) keep their items in a ring in shared memory
// (ring.hpp), which every client maps: puts and gets go straight through
// it, and no item passes through the server. A client holds one connection
// to the server, on which it attaches (the server sends the ring's
// descriptor, and a record for a joinable queue), asks to be told when an
// item comes (for wait()), and pokes the server when it put an item or shut
// the queue down while someone watches. The connection also tells each side
// that the other is gone: the server frees the record of a client that
// leaves (and fails the next join() if it left items unfinished).
//
// Pipelining. A consumer that gets items in batches asks for the next batch
// (a nowait get, carrying its acks) when half of the current one is used;
// the server answers it at once with what it holds (at most ~256 KiB), so a
// consumer that stops calling get() strands nothing that arrives later.
//
// Wire: frames (frame.hpp); the first payload byte is the operation.
//   client -> server                         server -> client
//   hello  u32 queue id [u32 pid, host]      -
//     (pid and host: a client through the gateways, for messages)
//   put    u32 n, n x (u32 len, bytes)       -
//   get    u32 max, u32 acks, u8 nowait      get u32 n, n x (u32 len, bytes)
//   cancel                                   cancelled
//   size                                     size u64 items, u64 maxsize,
//                                                 u8 shut down
//   done   u32 n                             -
//   join                                     join u8 ok, message
//   release u32 acks                         -
//     (a consumer leaving normally: `acks` items were taken, the rest of what
//      it fetched goes back to the head of the queue)
//   ack    u32 acks                          -
//     (get() returned `acks` items, which are taken)
//   shutdown u8 immediate                    shutdown
//   -                                        shut_down (instead of get:
//                                            nothing more comes)
//   -                                        shut_notice (unasked, once per
//                                            connection that put: at the
//                                            shutdown, or when it put after
//                                            it; those items were dropped)
//   bounded queues only:
//   attach                                   attach u32 record (-1: none),
//                                                 the ring's descriptor
//   watch                                    ready (once an item can be
//                                                 taken, or get() would end)
//   unwatch                                  unwatched (a ready may precede)
//   poke                                     - (the server answers watchers)
//   bounded queues, a client on another host (it cannot map the ring, so
//   the server puts and gets for it; server_far.cpp):
//   far_put bytes                            far_put u8 status, why
//   far_get                                  far_get u8 status, bytes
//     (status 1: done; 0: not done, the answer to a cancel; 2: failed, with
//      u32 errc and the message. shut_down instead once the queue is shut
//      down: for a get, shut down and empty)
//   size, done u32 n, join, shutdown u8 immediate, cancel: as above, on
//   the ring (done counts in the record the connection's first get claimed)
//
// Shutdown (Python 3.13's Queue.shutdown) of an unbounded queue: the queue
// takes no more items; gets are served until it is empty (or at once with
// `immediate`, which drops the items and, on a joinable queue, counts them
// done), then every waiting and later get request is answered shut_down.
// Every producer connection is sent a shut_notice, which the next put()
// there reads before it buffers an item; a process whose first batch crossed
// the shutdown gets the notice in answer to that batch. A batch that crossed
// the shutdown is kept (its put()s had returned), unless the shutdown was
// immediate. A bounded queue's shutdown is a flag in its ring.

#include <actors/detail/room.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

namespace actors::detail::queue_wire {

enum op : std::uint8_t {
  op_hello = 1,
  op_put = 2,
  op_get = 4, // 3 was credit (bounded queues, before the ring)
  op_cancel = 5,
  op_size = 6,
  op_done = 7,
  op_join = 8,
  op_cancelled = 9,
  op_release = 10,
  op_ack = 12, // 11 is stats_request (stats.hpp)
  op_shutdown = 13,
  op_shut_down = 14,
  op_shut_notice = 15,
  // 16 and 17 were return_credits and credits_returned
  op_attach = 18,
  op_watch = 19,
  op_ready = 20,
  op_unwatch = 21,
  op_unwatched = 22,
  op_poke = 23,
  op_far_put = 24,
  op_far_get = 25,
};

constexpr std::uint32_t max_fetch = 4096;          // items per get batch
constexpr auto slow_fetch = std::chrono::milliseconds(1); // a batch used slower than this: fetch less
constexpr std::size_t batch_bytes = 64 * 1024;     // a put batch is sent at this size
constexpr std::uint32_t batch_items = 8192;        // ... or at this many items
constexpr auto flush_delay = std::chrono::microseconds(200);
constexpr auto busy_retry = std::chrono::milliseconds(1);  // the flush timer, for a client in use
constexpr std::size_t batch_prefix = 5;             // op byte and u32 count
constexpr std::size_t reply_bytes = 256 * 1024;    // a get reply stops growing here
constexpr std::size_t big_item = 64 * 1024;        // sent on its own, not copied into a batch
constexpr auto far_retry = std::chrono::milliseconds(1); // a far client's waiting put, get or join

// -- payload helpers -----------------------------------------------------------

inline void put_u32(std::string& out, std::uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

inline void put_u64(std::string& out, std::uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}

struct reader {
  const char* p;
  const char* end;
  bool ok = true;

  // A fixed-size number, or 0 with ok cleared when too few bytes remain.
  template <class T>
  T number() {
    if (static_cast<std::size_t>(end - p) < sizeof(T)) {
      ok = false;
      return 0;
    }
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::uint32_t u32() { return number<std::uint32_t>(); }
  std::uint64_t u64() { return number<std::uint64_t>(); }
  std::uint8_t u8() { return number<std::uint8_t>(); }
  // An item: u32 length and that many bytes, checked against what remains.
  bool item(std::string& out) {
    auto n = u32();
    if (!ok || static_cast<std::size_t>(end - p) < n)
      return ok = false;
    out.clear();
    reserve_room(out, n);
    out.append(p, n);
    p += n;
    return true;
  }
};

inline void append_item(std::string& out, const std::string& item) {
  put_u32(out, static_cast<std::uint32_t>(item.size()));
  out += item;
}

} // namespace actors::detail::queue_wire
