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
      std::lock_guard<std::mutex> guard(flusher_mtx);
      if (the_flusher) {
        std::lock_guard<std::mutex> g(the_flusher->mtx);
        the_flusher->pending.erase(p);
        the_flusher->clients.erase(p);
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
  std::unique_lock<std::mutex> guard(flusher_mtx);
  auto* f = the_flusher;
  guard.unlock();
  if (!f)
    return;
  std::vector<queue_client*> all;
  {
    std::lock_guard<std::mutex> g(f->mtx);
    all.assign(f->clients.begin(), f->clients.end());
  }
  for (auto* c : all) {
    c->flush_or_log();
    c->release();
  }
}

void stop_queue_server() noexcept {
  flush_all_queues();
  {
    std::lock_guard<std::mutex> guard(flusher_mtx);
    if (the_flusher) {
      {
        std::lock_guard<std::mutex> g(the_flusher->mtx);
        the_flusher->stopping = true;
      }
      the_flusher->cv.notify_all();
      the_flusher->thread.join();
      // Clients may outlive the node (static handles); keep the registry.
      the_flusher->stopping = false;
      the_flusher->thread = std::thread();
    }
  }
  stop_node_server();
}

void drop_inherited_queues() noexcept {
  // In a fork()ed child: the server and flusher threads did not survive the
  // fork. Our copies of the server's descriptors are closed; clients keep
  // their state but reconnect on first use, with a fresh flusher.
  forget_inherited_node_server();
  if (the_flusher) {
    for (auto* c : the_flusher->clients)
      c->close_all();
    the_flusher = nullptr; // leaked: its thread object cannot be destroyed here
  }
}

} // namespace actors::detail
