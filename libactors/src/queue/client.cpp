// The queue client: put batching, get prefetch and requests, a bounded
// queue's calls on its ring (ring.hpp), and
// the flush timer. The wire is described in wire.hpp.

#include "queue/client.hpp"

namespace actors::detail {

std::mutex registry_mtx;
flush_registry* the_registry = nullptr;

flush_registry& registry() {
  (void) service_loop(); // not under registry_mtx: see node_server() (server.cpp)
  std::lock_guard<std::mutex> guard(registry_mtx);
  if (!the_registry)
    the_registry = new flush_registry;
  return *the_registry;
}

void track(queue_client* c) {
  auto& r = registry();
  std::lock_guard<std::mutex> guard(r.mtx);
  r.clients.insert(c);
}

namespace {

// One tick of the flush timer, on the service loop: sends what waited, and
// comes again while anything is left (a client busy in another thread, or a
// full socket).
void flush_tick(event_loop& loop, flush_registry& r) {
  std::lock_guard<std::mutex> guard(r.mtx);
  bool soon = false;
  for (auto it = r.pending.begin(); it != r.pending.end();) {
    auto left = (*it)->flush_nowait();
    soon = soon || left == queue_client::flush_left::soon;
    it = left == queue_client::flush_left::nothing ? r.pending.erase(it) : std::next(it);
  }
  if (r.pending.empty()) {
    r.armed = false;
    return;
  }
  // A client busy in another thread is looked at again later (~1 ms).
  auto delay = soon ? event_loop::clock::duration(flush_delay) : event_loop::clock::duration(busy_retry);
  loop.at(event_loop::clock::now() + delay, [&loop, &r] { flush_tick(loop, r); });
}

// Has the flush timer come after a put() that left items in a new batch, on
// every way out of it.
struct flush_after_put {
  queue_client& c;
  bool wanted = false;
  ~flush_after_put() {
    if (!wanted)
      return;
    try {
      flush_soon(c);
    } catch (...) { // no node: nothing can flush, and the next put() says why
    }
  }
};

} // namespace

void flush_soon(queue_client& c) {
  auto& loop = service_loop();
  auto& r = registry();
  {
    std::lock_guard<std::mutex> guard(r.mtx);
    r.pending.insert(&c);
    if (std::exchange(r.armed, true))
      return;
  }
  auto due = event_loop::clock::now() + flush_delay;
  loop.post([&loop, &r, due] { loop.at(due, [&loop, &r] { flush_tick(loop, r); }); });
}

namespace {

// A call that waits for the server's answer, made on the service loop that
// serves this queue (a pool callback: callbacks run there), would wait for
// itself forever: refused instead.
void refuse_on_serving_loop(const queue_client& c, const char* what) {
  // (An owner on another host may have our pid: its path names its host.)
  if (c.addr.owner_pid == ::getpid() && !is_remote_endpoint(c.addr.path) && on_service_loop())
    throw error(errc::bad_argument,
                std::string("queue::") + what
                  + " inside a pool callback would deadlock: callbacks run on the node's "
                    "service loop, which also serves the queues this process created, and this "
                    "call waits for that queue's answer; hand the work to another thread");
}

// A bounded queue's ring, attached on first use (which needs the server's
// answer: refused on its own loop).
ring& ring_of(queue_client& c, const char* what) {
  if (!c.rng_ptr.load(std::memory_order_acquire))
    refuse_on_serving_loop(c, what);
  auto& r = c.attached_ring();
  return r;
}

// The end of a ring call that did not return an item or room.
[[noreturn]] void ring_failed(queue_client& c, ring::result res, bool put) {
  if (res == ring::result::shut_down) {
    c.shut_down = true;
    if (put)
      throw queue_shut_down("queue::put: the queue was shut down (shutdown() was called); "
                            "it takes no more items");
    throw queue_shut_down("queue::get: the queue was shut down and is empty");
  }
  throw c.owner_gone();
}

// A bounded queue's put: straight into its ring.
bool ring_put(queue_client& c, const std::string& item, duration timeout) {
  if (c.closed)
    throw error(errc::closed, "this process closed the queue for putting");
  auto& r = ring_of(c, "put");
  auto res = r.put(item.data(), item.size(), deadline_in(timeout), c.ctl_open);
  if (res == ring::result::timeout)
    return false;
  if (res != ring::result::ok)
    ring_failed(c, res, true);
  if (r.watchers().load() > 0)
    c.poke();
  return true;
}

// A bounded queue's get: straight from its ring.
std::optional<std::string> ring_get(queue_client& c, duration timeout) {
  auto& r = ring_of(c, "get");
  if (c.watch_pending.load()) {
    refuse_on_serving_loop(c, "get after a wait()");
    c.end_watch();
  }
  std::string item;
  auto res = r.get(item, deadline_in(timeout), c.ctl_open, c.record);
  if (res == ring::result::timeout)
    return std::nullopt;
  if (res != ring::result::ok)
    ring_failed(c, res, false);
  std::lock_guard<std::mutex> lock(c.get_mtx);
  ++c.taken;
  return item;
}

// A ring whose owner still serves it.
ring& live_ring(queue_client& c, const char* what) {
  auto& r = ring_of(c, what);
  if (!r.owner_alive())
    throw c.owner_gone();
  return r;
}

// -- a bounded queue on another host: its server puts and gets for us ----------

// A far put's or get's answer: true when done, false when not (the answer
// to a cancel). Throws for a queue shut down, and for what the server's
// ring refused.
bool far_done(queue_client& c, const std::string& reply, bool put) {
  if (static_cast<op>(reply[0]) == op_shut_down)
    ring_failed(c, ring::result::shut_down, put);
  if (reply.size() < 2)
    throw c.owner_gone();
  if (reply[1] == '\2') {
    reader r{reply.data() + 2, reply.data() + reply.size()};
    auto code = static_cast<errc>(r.u32());
    throw error(code, "queue: the owner's host refused the item: " + std::string(r.p, r.end));
  }
  return reply[1] == '\1';
}

bool far_put(queue_client& c, const std::string& item, duration timeout) {
  if (c.closed)
    throw error(errc::closed, "this process closed the queue for putting");
  std::lock_guard<std::mutex> lock(c.put_mtx);
  c.ensure(c.put_fd);
  // The op byte and the item, as one frame, without copying the item.
  char head[frame_header_size + 1];
  put_header(head, {static_cast<std::uint32_t>(1 + item.size()), 0, frame_kind::object});
  head[frame_header_size] = static_cast<char>(op_far_put);
  iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(item.data()), item.size()}};
  if (!send_all(c.put_fd.get(), iov, 2))
    throw c.owner_gone();
  auto reply = c.await(c.put_fd.get(), op_far_put, timeout);
  return reply && far_done(c, *reply, true);
}

// Ends the watch a far wait() left on get_fd, so that the next answer
// there is the get's: a "ready" already in is the end of it, otherwise
// the watch is withdrawn (one round trip). Caller holds c.get_mtx.
void far_end_watch(queue_client& c) {
  if (!c.watch_pending.exchange(false))
    return;
  if (auto r = c.read_reply(c.get_fd.get(), duration::zero()); r && static_cast<op>((*r)[0]) == op_ready)
    return;
  {
    std::lock_guard<std::mutex> w(c.get_write_mtx);
    c.write_get(std::string(1, static_cast<char>(op_unwatch)));
  }
  while (static_cast<op>((*c.read_reply(c.get_fd.get(), forever))[0]) != op_unwatched) {
  }
}

std::optional<std::string> far_get(queue_client& c, duration timeout) {
  std::lock_guard<std::mutex> lock(c.get_mtx);
  far_end_watch(c);
  {
    std::lock_guard<std::mutex> w(c.get_write_mtx);
    c.write_get(std::string(1, static_cast<char>(op_far_get)));
  }
  auto reply = c.await(c.get_fd.get(), op_far_get, timeout);
  if (!reply || !far_done(c, *reply, false))
    return std::nullopt;
  ++c.taken;
  reply->erase(0, 2);
  return reply;
}

// A far wait(): the server says on get_fd when an item can be taken (at
// once if one can); the next get() reads that first.
int far_wait_handle(queue_client& c) {
  std::lock_guard<std::mutex> lock(c.get_mtx);
  if (!c.watch_pending.exchange(true)) {
    std::lock_guard<std::mutex> w(c.get_write_mtx);
    c.write_get(std::string(1, static_cast<char>(op_watch)));
  }
  return c.get_fd.get();
}

} // namespace

bool queue_put(queue_client& c, std::string item, duration timeout) {
  if (item.size() + 4 > frame_cap())
    throw error(errc::frame_too_large,
                "queue item of " + std::to_string(item.size()) + " bytes is over the cap of "
                  + std::to_string(frame_cap())
                  + " bytes; nothing was sent (raise it with actors::set_max_frame_size)");
  if (c.far)
    return far_put(c, item, timeout);
  if (c.addr.maxsize > 0)
    return ring_put(c, item, timeout);
  flush_after_put after{c}; // after the lock is released
  std::unique_lock<std::mutex> lock(c.put_mtx);
  if (c.closed)
    throw error(errc::closed, "this process closed the queue for putting");
  // Connected here, not by the flush timer: a connect may wait.
  c.ensure(c.put_fd);
  if (c.batch_count == 0) // once per batch: a put() after a shutdown throws soon
    c.refuse_if_shut_down();
  if (item.size() >= big_item) { // sent on its own, from where it is
    c.flush_locked();
    c.write_item(item);
    return true;
  }
  bool was_empty = c.batch_count == 0;
  append_item(c.batch, item);
  ++c.batch_count;
  if (c.batch.size() - batch_prefix >= batch_bytes || c.batch_count >= batch_items) {
    c.flush_locked();
    return true;
  }
  after.wanted = was_empty;
  return true;
}

namespace {

// Sends a get request, with the acks of the items get() returned since the
// last one. Caller holds c.get_mtx.
void send_get(queue_client& c, bool nowait) {
  std::string req(1, static_cast<char>(op_get));
  put_u32(req, c.fetch_size);
  put_u32(req, c.acks.exchange(0));
  req += nowait ? '\1' : '\0';
  c.asked = c.fetch_size;
  std::lock_guard<std::mutex> w(c.get_write_mtx);
  c.write_get(req);
}

// Sends a get request. Caller holds c.get_mtx.
void request_items(queue_client& c, bool nowait) {
  // Our own buffered puts go first: a process may consume what it produced.
  // A request that must not wait must not overtake them on the other
  // connection either (put(x); get_nowait() finds x).
  bool sync;
  {
    std::lock_guard<std::mutex> put_lock(c.put_mtx);
    c.flush_locked();
    sync = nowait && c.unsynced;
  }
  if (sync)
    (void) c.sync_puts();
  send_get(c, nowait);
}

// The items of a get reply go to c.fetched. False for shut_down. Caller
// holds c.get_mtx.
bool absorb_items(queue_client& c, const std::string& reply, bool prefetch) {
  if (static_cast<op>(reply[0]) == op_shut_down)
    return false;
  reader r{reply.data() + 1, reply.data() + reply.size()};
  auto n = r.u32();
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string item;
    if (!r.item(item))
      throw c.owner_gone();
    c.fetched.push_back(std::move(item));
  }
  c.last_batch = n;
  // Fetch more next time while the queue keeps up with us, and while we keep
  // up with it: a consumer that took long since its last batch (slow work
  // per item, or a queue that was empty) fetches less, so that it never
  // holds items another consumer could be working on.
  auto now = std::chrono::steady_clock::now();
  auto last = std::exchange(c.fetched_at, now);
  bool slow = last != std::chrono::steady_clock::time_point{} && now - last > slow_fetch;
  if (slow)
    c.fetch_size = std::max(1u, std::min(c.fetch_size, std::max(1u, n)) / 2);
  else if (n == c.asked)
    c.fetch_size = std::min(max_fetch, c.fetch_size * 2);
  else if (!prefetch)
    c.fetch_size = std::max(1u, n);
  return true;
}

// Reads the answer to a pipelined request (the server answers those at
// once). Caller holds c.get_mtx.
void finish_prefetch(queue_client& c) {
  if (!std::exchange(c.prefetch_pending, false))
    return;
  auto reply = c.read_reply(c.get_fd.get(), forever);
  (void) absorb_items(c, *reply, true); // shut_down: the next request hears it again
}

} // namespace

int queue_wait_handle(queue_client& c) {
  if (c.far)
    return far_wait_handle(c);
  if (c.addr.maxsize > 0) {
    auto& r = ring_of(c, "wait");
    if (r.get_would_return())
      return -1;
    std::lock_guard<std::mutex> lock(c.ctl_mtx);
    if (!c.watch_pending.exchange(true))
      c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_watch)));
    return c.ctl_fd.get();
  }
  std::lock_guard<std::mutex> lock(c.get_mtx);
  if (c.fetched.empty())
    finish_prefetch(c);
  if (!c.fetched.empty())
    return -1;
  if (!c.fetch_pending) {
    request_items(c, false);
    c.fetch_pending = true;
  }
  return c.get_fd.get();
}

std::optional<std::string> queue_get(queue_client& c, duration timeout) {
  if (c.far)
    return far_get(c, timeout);
  if (c.addr.maxsize > 0)
    return ring_get(c, timeout);
  std::lock_guard<std::mutex> lock(c.get_mtx);
  if (c.fetched.empty()) {
    refuse_on_serving_loop(c, "get");
    finish_prefetch(c);
  }
  if (c.fetched.empty()) {
    if (!std::exchange(c.fetch_pending, false))
      request_items(c, timeout == duration::zero());
    auto reply = c.await(c.get_fd.get(), op_get, timeout);
    if (!reply)
      return std::nullopt;
    if (!absorb_items(c, *reply, false))
      throw queue_shut_down("queue::get: the queue was shut down and is empty");
    if (c.fetched.empty())
      return std::nullopt;
  }
  auto item = std::move(c.fetched.front());
  c.fetched.pop_front();
  ++c.taken;
  // Pipelining: while the items keep coming in batches, the next batch is
  // asked for when half of this one is used, so that it travels meanwhile.
  // Such a request is answered at once with what the queue holds: nothing
  // waits at the server for a consumer that may stop calling get(). It
  // carries the acks.
  if (!c.prefetch_pending && c.last_batch > 1 && c.fetched.size() <= c.last_batch / 2) {
    c.acks.fetch_add(1);
    send_get(c, true);
    c.prefetch_pending = true;
    return item;
  }
  c.acks.fetch_add(1);
  return item;
}

std::uint64_t queue_size(queue_client& c) {
  if (c.addr.maxsize > 0 && !c.far)
    return live_ring(c, "qsize").size();
  refuse_on_serving_loop(c, "qsize");
  if (auto size = c.far ? std::nullopt : c.sync_puts()) // (a far put is in when it returns)
    return *size;
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_size)));
  auto reply = c.read_reply(c.ctl_fd.get(), forever);
  reader r{reply->data() + 1, reply->data() + reply->size()};
  return r.u64();
}

void queue_task_done(queue_client& c) {
  {
    std::lock_guard<std::mutex> lock(c.get_mtx);
    if (c.done >= c.taken)
      throw error(errc::bad_argument,
                  "task_done() called more times than this process took items");
    ++c.done;
  }
  if (c.addr.maxsize > 0 && !c.far) {
    live_ring(c, "task_done").task_done(c.record);
    return;
  }
  std::string req(1, static_cast<char>(op_done));
  put_u32(req, 1);
  std::lock_guard<std::mutex> w(c.get_write_mtx);
  c.write_get(req);
}

bool queue_join(queue_client& c, duration timeout) {
  if (c.addr.maxsize > 0 && !c.far) {
    std::string why;
    auto res = ring_of(c, "join").join(deadline_in(timeout), c.ctl_open, why);
    if (res == ring::result::abandoned)
      throw error(errc::consumer_died, "joinable_queue::join: " + why);
    if (res == ring::result::owner_gone)
      throw c.owner_gone();
    return res == ring::result::ok;
  }
  refuse_on_serving_loop(c, "join");
  if (!c.far)
    (void) c.sync_puts();
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_join)));
  auto reply = c.await(c.ctl_fd.get(), op_join, timeout);
  if (!reply)
    return false;
  if (reply->size() < 2 || (*reply)[1] != '\1')
    throw error(errc::consumer_died, "joinable_queue::join: " + reply->substr(2));
  return true;
}

bool queue_is_shut_down(queue_client& c) {
  if (c.shut_down)
    return true;
  if (c.addr.maxsize > 0 && !c.far)
    return live_ring(c, "is_shutdown").is_shut_down();
  refuse_on_serving_loop(c, "is_shutdown");
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  c.write(c.ctl_fd.get(), std::string(1, static_cast<char>(op_size)));
  auto reply = c.read_reply(c.ctl_fd.get(), forever);
  reader r{reply->data() + 1, reply->data() + reply->size()};
  (void) r.u64();
  (void) r.u64();
  return r.u8() == 1;
}

void queue_shutdown(queue_client& c, bool immediate) {
  if (c.addr.maxsize > 0 && !c.far) {
    auto& r = live_ring(c, "shutdown");
    r.shutdown(immediate);
    c.shut_down = true;
    if (r.watchers().load() > 0)
      c.poke();
    return;
  }
  refuse_on_serving_loop(c, "shutdown");
  if (!c.far)
    (void) c.sync_puts(); // what this process put before shutdown() is in the queue
  std::lock_guard<std::mutex> lock(c.ctl_mtx);
  c.ensure(c.ctl_fd);
  std::string req(1, static_cast<char>(op_shutdown));
  req += immediate ? '\1' : '\0';
  c.write(c.ctl_fd.get(), req);
  (void) c.read_reply(c.ctl_fd.get(), forever);
  c.shut_down = true;
  if (immediate) { // what this process fetched goes back at release, and is dropped
    std::lock_guard<std::mutex> get_lock(c.get_mtx);
    finish_prefetch(c);
    c.fetched.clear();
  }
}

void queue_close(queue_client& c) {
  std::lock_guard<std::mutex> put_lock(c.put_mtx);
  c.flush_locked();
  c.closed = true;
}

} // namespace actors::detail
