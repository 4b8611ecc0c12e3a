// A bounded queue's clients on other hosts. Its items are in shared memory
// (ring.hpp), which only processes on the owner's host can map, so for a
// client on another host the server puts and gets in its stead: one request
// and one answer per call, through the gateways. A call that cannot go on
// at once (a full or empty queue, unfinished items) waits in a list of the
// queue's; the server tries the waiting again when a local put pokes it (it
// counts as a watcher for that) and every far_retry while any wait, in the
// order they came. The wire is in wire.hpp.

#include "queue/server.hpp"
#include "queue/wire.hpp"

#include <actors/errors.hpp>
#include <actors/log.hpp>

#include <algorithm>

namespace actors::detail {

using namespace queue_wire;

namespace {

std::string status_reply(op code, char status) {
  std::string reply(1, static_cast<char>(code));
  reply += status;
  return reply;
}

// A put or get the ring refused with an error (an item whose bytes the
// ring cannot hold, a malformed record): the client throws it.
std::string failed_reply(op code, const error& e) {
  auto reply = status_reply(code, '\2');
  put_u32(reply, static_cast<std::uint32_t>(e.code().value()));
  reply += e.what();
  return reply;
}

steady_time now() {
  return steady_time::clock::now();
}

} // namespace

bool server::handle_far(server_conn& c, queue_state& q, std::uint8_t code, const char* data,
                        std::size_t size) {
  reader r{data, data + size};
  switch (code) {
    case op_far_put:
      if (c.far_put_pending)
        return false; // one call at a time per connection
      c.far_item.assign(data, size);
      c.far_put_pending = true;
      q.far_putters.push_back(&c);
      break;
    case op_far_get:
      if (c.far_get_pending)
        return false;
      c.far_get_pending = true;
      q.far_getters.push_back(&c);
      q.rng->watchers().fetch_add(1); // a local put pokes the server
      break;
    case op_join:
      if (c.far_join_pending)
        return false;
      c.far_join_pending = true;
      q.far_joiners.push_back(&c);
      break;
    case op_done: {
      auto n = r.u32();
      if (!r.ok)
        return false;
      if (!c.attached)
        claim_record(c, q);
      for (std::uint32_t i = 0; i < n; ++i)
        q.rng->task_done(c.record);
      break;
    }
    case op_size: {
      std::string reply(1, static_cast<char>(op_size));
      put_u64(reply, q.rng->size());
      put_u64(reply, q.maxsize);
      reply += q.rng->is_shut_down() ? '\1' : '\0';
      send(c, reply);
      break;
    }
    case op_shutdown: {
      auto immediate = r.u8();
      if (!r.ok)
        return false;
      q.rng->shutdown(immediate != 0);
      send(c, std::string(1, static_cast<char>(op_shutdown)));
      break;
    }
    case op_cancel:
      // A waiting call is answered "not done"; then "cancelled" closes the
      // exchange (an answer that crossed the cancel came before it).
      forget_far(c);
      if (std::exchange(c.far_put_pending, false))
        send(c, status_reply(op_far_put, '\0'));
      if (std::exchange(c.far_get_pending, false))
        send(c, status_reply(op_far_get, '\0'));
      c.far_join_pending = false;
      c.far_item.clear();
      send(c, std::string(1, static_cast<char>(op_cancelled)));
      return true;
    default:
      return false;
  }
  serve_far(q);
  return true;
}

// Tries every waiting far call of the queue, in order, until none can go
// on; comes back in far_retry if any still waits.
void server::serve_far(queue_state& q) {
  for (bool moved = true; moved;) {
    moved = false;
    while (!q.far_putters.empty()) {
      auto* c = q.far_putters.front();
      std::string reply;
      try {
        auto res = q.rng->put(c->far_item.data(), c->far_item.size(), now(), {});
        if (res == ring::result::timeout)
          break;
        reply = res == ring::result::ok ? status_reply(op_far_put, '\1')
                                        : std::string(1, static_cast<char>(op_shut_down));
      } catch (const error& e) {
        reply = failed_reply(op_far_put, e);
      }
      q.far_putters.pop_front();
      c->far_put_pending = false;
      std::string().swap(c->far_item);
      send(*c, reply);
      moved = true;
    }
    while (!q.far_getters.empty()) {
      auto* c = q.far_getters.front();
      std::string reply = status_reply(op_far_get, '\1');
      try {
        std::string item;
        if (!c->attached) // its first get: the record counts what it takes
          claim_record(*c, q);
        auto res = q.rng->get(item, now(), {}, c->record);
        if (res == ring::result::timeout)
          break;
        if (res == ring::result::ok)
          reply += item;
        else
          reply.assign(1, static_cast<char>(op_shut_down));
      } catch (const error& e) {
        reply = failed_reply(op_far_get, e);
      }
      q.far_getters.pop_front();
      q.rng->watchers().fetch_sub(1);
      c->far_get_pending = false;
      send(*c, reply);
      moved = true;
    }
  }
  while (!q.far_joiners.empty()) {
    std::string why;
    auto res = q.rng->join(now(), {}, why);
    if (res == ring::result::timeout)
      break;
    std::string reply(1, static_cast<char>(op_join));
    reply += res == ring::result::abandoned ? '\0' : '\1';
    reply += why;
    for (auto* c : q.far_joiners) {
      c->far_join_pending = false;
      send(*c, reply);
    }
    q.far_joiners.clear();
  }
  answer_watchers(q); // a far put may have brought the item a watcher waits for
  if (!q.far_putters.empty() || !q.far_getters.empty() || !q.far_joiners.empty())
    far_retry_.arm(loop_, far_retry, [this] { retry_far(); });
}

void server::retry_far() {
  std::vector<queue_state*> waiting;
  {
    std::lock_guard<std::mutex> guard(mtx_);
    for (auto& [id, q] : queues_)
      if (!q->far_putters.empty() || !q->far_getters.empty() || !q->far_joiners.empty())
        waiting.push_back(q.get());
  }
  for (auto* q : waiting)
    serve_far(*q);
}

// Takes the connection off its queue's far wait lists (it closed, or
// cancelled its call).
void server::forget_far(server_conn& c) {
  auto* q = c.q;
  if (!q || !q->rng)
    return;
  withdraw(q->far_putters, &c);
  if (c.far_get_pending) {
    withdraw(q->far_getters, &c);
    q->rng->watchers().fetch_sub(1);
  }
  withdraw(q->far_joiners, &c);
}

} // namespace actors::detail
