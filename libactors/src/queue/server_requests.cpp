// The queue server's request handling: what each frame from a client does to
// its queue, and how waiting consumers, producers and joiners are served.
// The wire and its rules are described in wire.hpp.

#include "queue/server.hpp"
#include "queue/wire.hpp"
#include "runtime/stats.hpp"

#include <actors/detail/queue_client.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/thread_name.hpp"
#include "io/frame.hpp"
#include "runtime/runtime.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace actors::detail {

using namespace queue_wire;

namespace {

// The first `acks` items the connection fetched were returned by get().
void take_acked(server_conn& c, std::uint64_t acks) {
  acks = std::min<std::uint64_t>(acks, c.unacked.size());
  c.unacked.erase(c.unacked.begin(), c.unacked.begin() + static_cast<long>(acks));
  c.taken += acks;
}

// Drops every item the queue holds (an immediate shutdown); a joinable queue
// counts them done.
void drop_items(queue_state& q) {
  if (q.joinable)
    q.unfinished -= std::min<std::uint64_t>(q.unfinished, q.items.size());
  q.items.clear();
}

// What the connection fetched and did not take goes back to the head of the
// queue, in order, into the room it held (and is dropped at once if the queue
// was shut down immediately).
void put_back_unacked(queue_state& q, server_conn& c) {
  for (auto it = c.unacked.rbegin(); it != c.unacked.rend(); ++it)
    q.items.push_front(std::move(*it));
  c.unacked.clear();
  if (q.immediate)
    drop_items(q);
}

} // namespace

void server::add_stats(node_stats& s) {
  std::lock_guard<std::mutex> guard(mtx_);
  for (auto& [id, q] : queues_) {
    queue_stats qs;
    qs.id = id;
    qs.items = q->rng ? q->rng->size() : q->items.size();
    qs.maxsize = q->maxsize;
    qs.puts = q->rng ? q->rng->puts() : q->puts;
    qs.gets = q->rng ? q->rng->gets() : q->gets;
    qs.waiting_getters = q->rng ? q->rng->waiting_gets() + static_cast<std::uint32_t>(q->far_getters.size())
                                : static_cast<std::uint32_t>(q->getters.size());
    qs.waiting_putters = q->rng ? q->rng->waiting_puts() + static_cast<std::uint32_t>(q->far_putters.size())
                                : 0; // (only bounded queues are ever full)
    for (auto& [fd, other] : conns_)
      qs.connections += other->q == q.get() ? 1 : 0;
    s.queues.push_back(qs);
  }
}

bool server::handle(server_conn& c, const char* data, std::size_t size) {
  reader r{data, data + size};
  auto code = r.u8();
  if (code == op_hello) {
    auto id = r.u32();
    if (r.ok && r.p != r.end) {
      // Through the gateways: the pid seen here is the gateway's, so the
      // client says who it is (for messages only; pid 0 is refused, it
      // marks a free record).
      auto pid = r.u32();
      if (!r.ok || pid == 0 || pid > 0x7fffffffu)
        return false;
      c.pid = static_cast<int>(pid);
      c.host.assign(r.p, r.end);
    }
    std::lock_guard<std::mutex> guard(mtx_);
    auto it = queues_.find(id);
    if (!r.ok || it == queues_.end() || c.q)
      return false;
    c.q = it->second.get();
    return true;
  }
  if (!c.q)
    return false;
  auto& q = *c.q;
  if (q.rng) { // a bounded queue: clients use its ring
    switch (code) {
      case op_attach: {
        if (c.attached)
          return false;
        claim_record(c, q);
        std::string reply(1, static_cast<char>(op_attach));
        put_u32(reply, static_cast<std::uint32_t>(c.record));
        // The first reply on this connection: nothing waits in c.out.
        if (!send_frame(c.fd, frame_kind::object, reply.data(), reply.size(), {q.rng->fd()}))
          return false;
        return true;
      }
      case op_watch:
        if (!c.watching) {
          c.watching = true;
          q.watchers.push_back(&c);
          q.rng->watchers().fetch_add(1);
        }
        break;
      case op_unwatch:
        if (std::exchange(c.watching, false)) {
          withdraw(q.watchers, &c);
          q.rng->watchers().fetch_sub(1);
        }
        send(c, std::string(1, static_cast<char>(op_unwatched)));
        break;
      case op_poke:
        serve_far(q); // a local put: a far get may go on
        break;
      default: // the calls of a client on another host
        return handle_far(c, q, code, r.p, static_cast<std::size_t>(r.end - r.p));
    }
    answer_watchers(q);
    return r.ok;
  }
  switch (code) {
    case op_put: {
      c.putter = true;
      auto n = r.u32();
      for (std::uint32_t i = 0; r.ok && i < n; ++i) {
        std::string item;
        if (!r.item(item))
          return false;
        if (q.immediate)
          continue; // the queue was emptied for good: dropped
        q.items.push_back(std::move(item));
        ++q.puts;
      }
      if (!r.ok)
        return false;
      // A batch that crossed a (not immediate) shutdown is kept: its put()s
      // returned before this producer could know, and it sends at most this
      // one batch before it reads the notice.
      if (q.shut_down && !std::exchange(c.noticed, true))
        send(c, std::string(1, static_cast<char>(op_shut_notice)));
      if (q.immediate)
        break;
      if (q.joinable)
        q.unfinished += n;
      break;
    }
    case op_shutdown: {
      auto immediate = r.u8();
      if (!r.ok)
        return false;
      q.shut_down = true;
      if (immediate) {
        q.immediate = true;
        drop_items(q);
      }
      // Producers hear of it before shutdown() returns, so their next put()
      // throws (the notice waits in their socket for it).
      for (auto& [fd, other] : conns_)
        if (other->q == &q && other->putter && !std::exchange(other->noticed, true))
          send(*other, std::string(1, static_cast<char>(op_shut_notice)));
      send(c, std::string(1, static_cast<char>(op_shutdown)));
      break;
    }
    case op_get: {
      c.want_get = std::max<std::uint32_t>(1, std::min(r.u32(), max_fetch));
      auto acks = r.u32();
      auto nowait = r.u8();
      if (!r.ok)
        return false;
      take_acked(c, acks);
      c.get_pending = true;
      if (nowait && q.items.empty() && !q.shut_down) {
        c.get_pending = false;
        std::string reply(1, static_cast<char>(op_get));
        put_u32(reply, 0);
        send(c, reply);
      } else {
        q.getters.push_back(&c);
      }
      break;
    }
    case op_cancel: {
      // A pending get request is answered with nothing; a join is
      // just forgotten. Then "cancelled" closes the exchange.
      auto answer_empty = [&](bool& pending, std::deque<server_conn*>& waiting, op code) {
        if (!std::exchange(pending, false))
          return;
        withdraw(waiting, &c);
        std::string reply(1, static_cast<char>(code));
        put_u32(reply, 0);
        send(c, reply);
      };
      answer_empty(c.get_pending, q.getters, op_get);
      if (std::exchange(c.join_pending, false))
        withdraw(q.joiners, &c);
      send(c, std::string(1, static_cast<char>(op_cancelled)));
      break;
    }
    case op_size: {
      std::string reply(1, static_cast<char>(op_size));
      put_u64(reply, q.items.size());
      put_u64(reply, q.maxsize);
      reply += q.shut_down ? '\1' : '\0';
      send(c, reply);
      break;
    }
    case op_done: {
      auto n = r.u32();
      if (!r.ok)
        return false;
      c.done += n;
      q.unfinished -= std::min<std::uint64_t>(n, q.unfinished);
      break;
    }
    case op_join:
      c.join_pending = true;
      q.joiners.push_back(&c);
      break;
    case op_release: {
      auto acks = r.u32();
      if (!r.ok)
        return false;
      take_acked(c, acks);
      put_back_unacked(q, c);
      if (std::exchange(c.get_pending, false)) // a fetch armed by wait() is withdrawn too
        withdraw(q.getters, &c);
      break;
    }
    case op_ack: {
      auto acks = r.u32();
      if (!r.ok)
        return false;
      take_acked(c, acks);
      break;
    }
    default:
      return false;
  }
  serve(q);
  return r.ok;
}

// Hands items to waiting consumers, space to waiting producers, and answers
// joiners, in that order. Once the queue is shut down, a consumer that finds
// it empty and every producer are told so instead.
void server::serve(queue_state& q) {
  while (!q.getters.empty() && !q.items.empty()) {
    auto* c = q.getters.front();
    q.getters.pop_front();
    c->get_pending = false;
    // At most want_get items and about reply_bytes (at least one item), so
    // that a consumer's next batch travels while it uses this one.
    std::uint32_t n = 0;
    std::size_t bytes = 0;
    while (n < c->want_get && n < q.items.size() && (n == 0 || bytes < reply_bytes))
      bytes += q.items[n++].size();
    for (std::uint32_t i = 0; i < n; ++i) {
      c->unacked.push_back(std::move(q.items.front()));
      q.items.pop_front();
    }
    q.gets += n;
    send_items(*c, n);
  }
  if (q.shut_down) {
    auto refuse = [&](std::deque<server_conn*>& waiting, bool server_conn::*pending) {
      for (auto* c : waiting) {
        c->*pending = false;
        send(*c, std::string(1, static_cast<char>(op_shut_down)));
      }
      waiting.clear();
    };
    if (q.items.empty())
      refuse(q.getters, &server_conn::get_pending);
  }
  if (!q.joiners.empty() && (q.unfinished == 0 || !q.abandoned.empty())) {
    std::string reply(1, static_cast<char>(op_join));
    reply += q.abandoned.empty() ? '\1' : '\0';
    reply += q.abandoned;
    for (auto* c : q.joiners) {
      c->join_pending = false;
      send(*c, reply);
    }
    q.joiners.clear();
    q.abandoned.clear();
  }
}

// A bounded queue's client gets its record in the ring (a joinable queue's:
// what it took and marked done), which drop() releases: a client that leaves
// holding unfinished items fails the next join(). Once per connection, at
// its attach (or, for a client on another host, its first get).
void server::claim_record(server_conn& c, queue_state& q) {
  c.attached = true;
  if (q.joinable && (c.record = q.rng->claim_record(c.pid)) < 0)
    log::warning() << "queue server: more than " << ring::max_records
                   << " clients use joinable queue " << q.id << "; " << c.who()
                   << " dying with unfinished items will not fail join()";
}

// A bounded queue's watchers hear that an item can be taken (or that a get
// would end at once) when it can.
void server::answer_watchers(queue_state& q) {
  if (q.watchers.empty() || !q.rng->get_would_return())
    return;
  std::string ready(1, static_cast<char>(op_ready));
  for (auto* w : q.watchers) {
    w->watching = false;
    q.rng->watchers().fetch_sub(1);
    send(*w, ready);
  }
  q.watchers.clear();
}

// A client went away (exit, crash, or a bad frame). Nothing it was handed and
// had not taken is lost: those items go back to the head of the queue.
void server::drop(server_conn& c) {
  if (c.q && c.q->rng) {
    forget_far(c);
    if (std::exchange(c.watching, false)) {
      withdraw(c.q->watchers, &c);
      c.q->rng->watchers().fetch_sub(1);
    }
    c.q->rng->release_record(std::exchange(c.record, -1), c.who().c_str());
  } else if (auto* q = c.q) {
    withdraw(q->getters, &c);
    withdraw(q->joiners, &c);
    put_back_unacked(*q, c);
    if (q->joinable && c.taken > c.done) {
      auto lost = c.taken - c.done;
      q->unfinished -= std::min(q->unfinished, lost);
      q->abandoned = "consumer " + c.who() + " died holding "
                     + std::to_string(lost) + " unfinished item(s) of this queue";
    }
  }
  int fd = c.fd;
  auto* q = c.q;
  loop_.unwatch(fd);
  ::close(fd);
  conns_.erase(fd); // c is gone from here on
  if (q && !q->rng)
    serve(*q);
}

} // namespace actors::detail
