#pragma once
/// @file queue.hpp
/// `actors::queue<T>`: Python's `multiprocessing.Queue` with an item type.
/// The queue is served by the node of the process that creates it; handles
/// passed to children (as arguments, or through a pipe or queue) talk to that
/// server over a Unix socket. Many producers and many consumers may use it
/// from any processes and threads.
///
/// @code
/// void worker(actors::queue<int> q, int n) { for (int i = 1; i <= n; ++i) q.put(i); }
///
/// int main() {
///   actors::node node;
///   actors::queue<int> q;
///   actors::process p(worker, q, 100);
///   p.start();
///   long sum = 0;
///   for (int i = 0; i < 100; ++i) sum += q.get();   // 5050
///   p.join();
/// }
/// @endcode
///
/// Two mechanisms, one contract:
/// - An unbounded queue (maxsize 0) relays items through its owner's node:
///   producers send them in batches, consumers fetch them in batches.
/// - A bounded queue keeps its items in shared memory that every process
///   using it maps (a ring of maxsize items): put() and get() copy straight
///   in and out, without a message. Items of any size fit (the memory grows
///   for an item bigger than it, while the queue is empty).
/// - In a cluster (cluster.hpp) both kinds cross hosts. A handle on another
///   host than the owner's sends a bounded queue's calls to the owner's
///   node, which does them on the shared memory there: one round trip per
///   put() or get() (~0.5 ms between two hosts on one machine here), so
///   use an unbounded queue for throughput across hosts. A far get()'s item
///   is lost if the link breaks before the answer arrives (at most once,
///   as every message across hosts).
///
/// Delivery rules:
/// - Once put() returns, the item is not lost if the producer then exits
///   normally (its target returns or throws, system_exit, std::exit): the
///   node sends buffered items before the process ends. On a bounded queue
///   nothing is buffered: the item is in the queue when put() returns, even
///   if the producer is killed right after. (On an unbounded queue a
///   producer killed by a signal or ended with _exit may lose the items it
///   buffered in the last ~200 microseconds.)
/// - Items are delivered in the order they entered the queue.
/// - Unbounded: a consumer fetches items in small batches; if it dies, the
///   items it fetched but did not yet take with get() go back to the head
///   of the queue, and so may the items get() returned since its last
///   request: delivery is at least once for a consumer that dies, exactly
///   once otherwise.
/// - Bounded: exactly once. get() takes one item; a process killed at any
///   point of a put() or get() (even holding the queue's lock) leaves the
///   item either in the queue or taken by a get() that returned.
/// - A bounded queue never holds more than maxsize items. A put() waits
///   only while the queue is full (or, for a big item, while its bytes do
///   not fit).
/// - The queue lives as long as the process that created it (its node);
///   afterwards every call throws eof_error, and calls blocked in other
///   processes wake and throw it.
/// - A pool callback runs on the node's service loop, which serves the
///   queues this process created; there, a call that waits for such a
///   queue's server throws errc::bad_argument instead of deadlocking: on an
///   unbounded queue get with nothing fetched, qsize, join, shutdown and
///   is_shutdown; on a bounded queue only a handle's first call (it attaches
///   to the queue's memory) and a get() after a wait().
/// - After shutdown() (from any process), put() throws queue_shut_down, and
///   get() does once the queue is empty. Every process that has put into
///   the queue is told before shutdown() returns, and its next put() throws.
///   An item whose put() returned is never dropped by a plain shutdown: a
///   batch a producer buffered just before it (the ~200 microseconds before
///   its flush) still goes in, and each producer sends at most that one batch
///   before its put() throws. shutdown(true) drops everything, those too.

#include <actors/detail/queue_client.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace actors {

namespace detail {

template <class T, bool Joinable>
class basic_queue {
public:
  static_assert(is_serializable_v<T>,
                "actors::queue<T>: T is not serializable with Cereal. Give it a "
                "serialize(Archive&) member, or include the matching "
                "<cereal/types/...> header.");

  /// A new queue served by this process's node. `maxsize` 0 is unbounded.
  /// Throws errc::no_node, errc::system_error. (While a message is being
  /// decoded, a queue is only a placeholder that load() fills in.)
  explicit basic_queue(std::uint64_t maxsize = 0) {
    if (!decoding())
      client_ = create_queue(maxsize, Joinable);
  }

  /// Puts an item; blocks while the queue is full (at most `timeout`).
  /// Throws queue_full after the timeout, errc::frame_too_large for an item
  /// over the frame cap (nothing sent), eof_error if the owner is gone,
  /// queue_shut_down after shutdown() (also when it wakes a blocked put()).
  void put(const T& item, duration timeout = forever) {
    if (!queue_put(*client_, encode(item), timeout))
      throw queue_full("queue::put: the queue is full");
  }

  /// put() that never blocks (Python's put_nowait). Throws queue_full.
  void put_nowait(const T& item) { put(item, duration::zero()); }

  /// put() that reports a full queue as false instead of throwing (still
  /// throws queue_shut_down).
  bool try_put(const T& item, duration timeout = duration::zero()) {
    return queue_put(*client_, encode(item), timeout);
  }

  /// Takes the next item; blocks while the queue is empty (at most
  /// `timeout`). Throws queue_empty after the timeout, eof_error if the
  /// owner is gone, errc::bad_payload if the item does not decode as T,
  /// queue_shut_down once the queue is shut down and empty (also when that
  /// wakes a blocked get()).
  T get(duration timeout = forever) {
    if (auto item = try_get(timeout))
      return std::move(*item);
    throw queue_empty("queue::get: the queue is empty");
  }

  /// get() that never blocks (Python's get_nowait). Throws queue_empty.
  T get_nowait() { return get(duration::zero()); }

  /// get() that reports an empty queue as nullopt instead of throwing (still
  /// throws queue_shut_down).
  std::optional<T> try_get(duration timeout = duration::zero()) {
    auto bytes = queue_get(*client_, timeout);
    if (!bytes)
      return std::nullopt;
    return decode<T>(*bytes);
  }

  /// Items in the queue now (approximate while others put and get, as in
  /// Python). One round trip to the server; on a bounded queue, a read of
  /// its shared memory.
  std::uint64_t qsize() { return queue_size(*client_); }
  bool empty() { return qsize() == 0; }
  bool full() { return maxsize() > 0 && qsize() >= maxsize(); }
  std::uint64_t maxsize() const noexcept { return address_of(*client_).maxsize; }

  /// For actors::wait(); see waitable.
  int wait_handle() { return queue_wait_handle(*client_); }

  /// This process will put no more: sends what it buffered. Other processes
  /// are not affected. Further put() calls here throw errc::closed.
  void close() { queue_close(*client_); }

  /// Shuts the queue down for every process that uses it (Python 3.13's
  /// Queue.shutdown): from now on put() throws queue_shut_down everywhere,
  /// and get() does once the items left are taken; blocked put() and get()
  /// calls wake and throw. With `immediate` the items left are dropped at
  /// once (a joinable queue counts them done, which may end a join()), so
  /// get() throws at once, apart from the few items another consumer process
  /// had already fetched. What this process put before is in the queue
  /// first. Blocks for one round trip; calling it again is harmless (a later
  /// immediate one still drops the items). Throws eof_error if the owner is
  /// gone. Thread-safe.
  void shutdown(bool immediate = false) { queue_shutdown(*client_, immediate); }

  /// Whether shutdown() was called, here or in any other process (Python
  /// 3.13's is_shutdown). One round trip to the server until it is true.
  bool is_shut_down() { return queue_is_shut_down(*client_); }

  template <class Archive>
  void save(Archive& ar) const {
    ar(address_of(*client_));
  }

  template <class Archive>
  void load(Archive& ar) {
    queue_address address;
    ar(address);
    client_ = connect_queue(address);
  }

protected:
  std::shared_ptr<queue_client> client_;
};

} // namespace detail

/// A multi-producer, multi-consumer queue across processes.
/// - Blocks: put() while full, get() while empty, each up to its timeout.
/// - Throws: queue_full, queue_empty, eof_error, errc::frame_too_large.
/// - Thread-safe: any number of threads may use one handle.
template <class T>
class queue : public detail::basic_queue<T, false> {
public:
  using detail::basic_queue<T, false>::basic_queue;
};

/// A queue whose consumers mark items done, and whose join() waits until all
/// are (Python's JoinableQueue).
template <class T>
class joinable_queue : public detail::basic_queue<T, true> {
public:
  using detail::basic_queue<T, true>::basic_queue;

  /// Marks one item this process took with get() as done. Throws
  /// errc::bad_argument if called more times than items were taken here.
  void task_done() { detail::queue_task_done(*this->client_); }

  /// Waits until every item ever put has been marked done. Throws
  /// timeout_error after `timeout`; throws errc::consumer_died if a consumer
  /// died holding items it had taken but not marked done (Python hangs).
  void join(duration timeout = forever) {
    if (!detail::queue_join(*this->client_, timeout))
      throw timeout_error("joinable_queue::join: items still unfinished");
  }
};

/// The simplest queue: unbounded, put/get/empty/close (Python's SimpleQueue).
template <class T>
class simple_queue {
public:
  simple_queue() = default;
  void put(const T& item) { q_.put(item); }
  T get() { return q_.get(); }
  bool empty() { return q_.empty(); }
  void close() { q_.close(); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(q_);
  }

private:
  queue<T> q_;
};

} // namespace actors
