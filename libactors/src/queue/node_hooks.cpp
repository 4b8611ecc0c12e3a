// The queue's part in its node's life (runtime/node_hooks.hpp): its buffered
// puts leave when the node stops, its server stops last, and a fork child
// forgets the parent's server and clients.

#include <actors/detail/queue_client.hpp>

#include "runtime/node_hooks.hpp"

namespace actors::detail {

bool register_queue_node_hooks() noexcept {
  static const bool done = [] {
    node_hooks h;
    h.flush = &flush_all_queues;
    h.stop = &stop_queue_server;
    h.drop_inherited = &drop_inherited_queues;
    add_node_hooks(h);
    return true;
  }();
  return done;
}

} // namespace actors::detail
