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

// Takes a connection off one of a queue's wait lists.
void withdraw(std::deque<server_conn*>& waiting, server_conn* c) {
  waiting.erase(std::remove(waiting.begin(), waiting.end(), c), waiting.end());
}

// Free slots of a bounded queue (items, granted credits and fetched but
// unacknowledged items all take one); `unbounded` for a queue without maxsize.
std::uint64_t room(const queue_state& q, std::uint64_t unbounded) {
  if (q.maxsize == 0)
    return unbounded;
  auto used = q.items.size() + q.reserved + q.in_flight;
  return used >= q.maxsize ? 0 : q.maxsize - used;
}

// The first `acks` items the connection fetched were returned by get().
void take_acked(queue_state& q, server_conn& c, std::uint64_t acks) {
  acks = std::min<std::uint64_t>(acks, c.unacked.size());
  c.unacked.erase(c.unacked.begin(), c.unacked.begin() + static_cast<long>(acks));
  c.taken += acks;
  q.in_flight -= acks;
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
  q.in_flight -= c.unacked.size();
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
    qs.items = q->items.size();
    qs.maxsize = q->maxsize;
    qs.puts = q->puts;
    qs.gets = q->gets;
    qs.waiting_getters = static_cast<std::uint32_t>(q->getters.size());
    qs.waiting_putters = static_cast<std::uint32_t>(q->crediters.size());
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
      auto used = std::min<std::uint64_t>(n, c.credits);
      c.credits -= used;
      q.reserved -= used;
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
    case op_credit: {
      c.putter = true;
      c.want_credit = r.u32();
      c.credit_pending = true;
      bool nowait = r.u8();
      if (nowait) // answered once, with the room there is now
        c.want_credit = static_cast<std::uint32_t>(
          std::min<std::uint64_t>(c.want_credit, std::max<std::uint64_t>(1, room(q, c.want_credit))));
      if (nowait && room(q, 1) == 0 && !q.shut_down) {
        c.credit_pending = false; // nowait on a full queue: none, at once
        std::string reply(1, static_cast<char>(op_credit));
        put_u32(reply, 0);
        send(c, reply);
      } else {
        q.crediters.push_back(&c);
      }
      break;
    }
    case op_get: {
      c.want_get = std::max<std::uint32_t>(1, std::min(r.u32(), max_fetch));
      auto acks = r.u32();
      auto nowait = r.u8();
      if (!r.ok)
        return false;
      take_acked(q, c, acks);
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
      // A pending get or credit request is answered with nothing; a join is
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
      answer_empty(c.credit_pending, q.crediters, op_credit);
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
      take_acked(q, c, acks);
      put_back_unacked(q, c);
      if (std::exchange(c.get_pending, false)) // a fetch armed by wait() is withdrawn too
        withdraw(q.getters, &c);
      break;
    }
    case op_return_credits: {
      // An idle producer gives back unused credits (at most what it holds)
      // and, with `withdraw`, its standing request. Grants sent before this
      // were already on their way: credits_returned follows them.
      auto n = r.u32();
      auto withdraw_request = r.u8();
      if (!r.ok)
        return false;
      auto back = std::min<std::uint64_t>(n, c.credits);
      c.credits -= back;
      q.reserved -= std::min(q.reserved, back);
      if (withdraw_request && std::exchange(c.credit_pending, false)) {
        withdraw(q.crediters, &c);
        c.want_credit = 0;
      }
      send(c, std::string(1, static_cast<char>(op_credits_returned)));
      break;
    }
    case op_ack: {
      auto acks = r.u32();
      if (!r.ok)
        return false;
      take_acked(q, c, acks);
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
    q.in_flight += n;
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
    refuse(q.crediters, &server_conn::credit_pending);
  }
  while (!q.crediters.empty()) {
    auto free = room(q, q.crediters.front()->want_credit);
    if (free == 0)
      break;
    // A request stands until all it wanted was granted: room that frees
    // later is pushed to it without another request (pipelined credits).
    auto* c = q.crediters.front();
    auto granted = std::min<std::uint64_t>(free, std::max<std::uint32_t>(1, c->want_credit));
    if (granted >= c->want_credit || q.maxsize == 0) {
      q.crediters.pop_front();
      c->credit_pending = false;
      c->want_credit = 0;
    } else {
      c->want_credit -= static_cast<std::uint32_t>(granted);
    }
    if (q.maxsize > 0) {
      q.reserved += granted;
      c->credits += granted;
    }
    std::string reply(1, static_cast<char>(op_credit));
    put_u32(reply, static_cast<std::uint32_t>(granted));
    send(*c, reply);
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

// A client went away (exit, crash, or a bad frame). Nothing it was handed and
// had not taken is lost: those items go back to the head of the queue.
void server::drop(server_conn& c) {
  if (auto* q = c.q) {
    withdraw(q->getters, &c);
    withdraw(q->crediters, &c);
    withdraw(q->joiners, &c);
    put_back_unacked(*q, c);
    q->reserved -= std::min(q->reserved, c.credits);
    if (q->joinable && c.taken > c.done) {
      auto lost = c.taken - c.done;
      q->unfinished -= std::min(q->unfinished, lost);
      q->abandoned = "consumer pid " + std::to_string(c.pid) + " died holding "
                     + std::to_string(lost) + " unfinished item(s) of this queue";
    }
  }
  int fd = c.fd;
  auto* q = c.q;
  loop_.unwatch(fd);
  ::close(fd);
  conns_.erase(fd); // c is gone from here on
  if (q)
    serve(*q);
}

} // namespace actors::detail
