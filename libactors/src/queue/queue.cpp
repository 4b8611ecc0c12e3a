// The queue module's entry points: creating and connecting to queues, and
// flushing, stopping or (in a fork child) forgetting them all. The server is
// in server.cpp, the client in client.cpp, the wire in wire.hpp.

#include "queue/client.hpp"
#include "queue/server.hpp"

namespace actors::detail {

std::shared_ptr<queue_client> create_queue(std::uint64_t maxsize, bool joinable) {
  return connect_queue(create_on_node_server(maxsize, joinable));
}

std::shared_ptr<queue_client> connect_queue(const queue_address& address) {
  auto c = std::shared_ptr<queue_client>(new queue_client(address), [](queue_client* p) {
    {
      std::lock_guard<std::mutex> guard(registry_mtx);
      if (the_registry) { // (waits for a tick that may be flushing p)
        std::lock_guard<std::mutex> g(the_registry->mtx);
        the_registry->pending.erase(p);
        the_registry->clients.erase(p);
      }
    }
    p->flush_or_log(); // the last handle is gone: nothing buffered is lost
    p->release();
    delete p;
  });
  track(c.get());
  return c;
}

const queue_address& address_of(const queue_client& c) noexcept {
  return c.addr;
}

void flush_all_queues() noexcept {
  std::unique_lock<std::mutex> guard(registry_mtx);
  auto* r = the_registry;
  guard.unlock();
  if (!r)
    return;
  std::vector<queue_client*> all;
  {
    std::lock_guard<std::mutex> g(r->mtx);
    all.assign(r->clients.begin(), r->clients.end());
  }
  for (auto* c : all) {
    c->flush_or_log();
    c->release();
  }
}

void stop_queue_server() noexcept {
  flush_all_queues();
  {
    // The service loop stops next, with the flush timer's tick: a later put
    // (clients may outlive the node, as static handles) arms it anew, on the
    // loop of a node that runs then. Keep the registry.
    std::lock_guard<std::mutex> guard(registry_mtx);
    if (the_registry) {
      std::lock_guard<std::mutex> g(the_registry->mtx);
      the_registry->pending.clear();
      the_registry->armed = false;
    }
  }
  stop_node_server();
}

void drop_inherited_queues() noexcept {
  // In a fork()ed child: the server and the service loop did not survive the
  // fork. Our copies of the server's descriptors are closed. Clients forget
  // what was the parent's and reconnect on first use; they move to a fresh
  // registry, so that what the child puts through them still leaves at its
  // exit (the old one is leaked: a thread of the parent may have held its
  // mutex).
  forget_inherited_node_server();
  if (the_registry) {
    auto* fresh = new flush_registry;
    for (auto* c : the_registry->clients) {
      c->forget_after_fork();
      fresh->clients.insert(c);
    }
    the_registry = fresh;
  }
}

} // namespace actors::detail
