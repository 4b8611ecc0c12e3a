#pragma once
// The untyped side of actors::queue: a client of a queue server, which lives
// in the node of the process that created the queue. Items travel as encoded
// bytes; the server never decodes them. Internal; use actors::queue<T>.

#include <actors/detail/wire_endpoint.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace actors::detail {

/// Where a queue lives: its node's socket and its id there.
struct queue_address {
  std::string path;
  std::uint32_t id = 0;
  std::uint64_t maxsize = 0;
  bool joinable = false;
  int owner_pid = 0;

  // In a cluster the path names its host on the wire (actor_core.hpp).
  template <class Archive>
  void save(Archive& ar) const {
    ar(cluster_host().empty() ? path : endpoint_to_wire(path), id, maxsize, joinable, owner_pid);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(path, id, maxsize, joinable, owner_pid);
    if (!cluster_host().empty())
      path = endpoint_from_wire(std::move(path));
  }
};

class queue_client;

/// Creates a queue served by this process's node and returns a client of it.
std::shared_ptr<queue_client> create_queue(std::uint64_t maxsize, bool joinable);

/// A client of the queue at `address` (the process's shared one, if any).
std::shared_ptr<queue_client> connect_queue(const queue_address& address);

/// The queue a client talks to.
const queue_address& address_of(const queue_client& c) noexcept;

/// Puts encoded `item`. Returns false if the queue stayed full for
/// `timeout`. Throws errc::frame_too_large, errc::eof (the owner is gone),
/// errc::closed.
bool queue_put(queue_client& c, std::string item, duration timeout);

/// Takes one encoded item, or nullopt after `timeout`. Throws as queue_put.
std::optional<std::string> queue_get(queue_client& c, duration timeout);

/// For actors::wait(): a descriptor that becomes readable when an item can be
/// taken (a fetch request is sent, which the next queue_get completes), or
/// -1 if fetched items are waiting already.
int queue_wait_handle(queue_client& c);

/// Items in the queue (this process's buffered puts are sent first).
std::uint64_t queue_size(queue_client& c);

/// Marks one item taken by this process as done. Throws errc::bad_argument
/// when called more often than items were taken.
void queue_task_done(queue_client& c);

/// Waits until every item put has been marked done. False on timeout.
/// Throws errc::owner_died... see queue.hpp.
bool queue_join(queue_client& c, duration timeout);

/// Shuts the queue down for every process (Python 3.13's shutdown()): this
/// process's buffered puts go first; `immediate` drops the items. Returns
/// once the server has it.
void queue_shutdown(queue_client& c, bool immediate);

/// Whether the queue was shut down (by any process).
bool queue_is_shut_down(queue_client& c);

/// Sends what this process buffered and stops putting (Python's close()).
void queue_close(queue_client& c);

/// Opens this node's transport socket now (actors-top's control endpoint),
/// rather than at the first queue.
void start_control_endpoint();

/// Sends every process-wide buffered item now (node shutdown calls this).
void flush_all_queues() noexcept;

/// Stops this node's queue server and removes its socket directory.
void stop_queue_server() noexcept;

/// In a fork()ed child: forgets the parent's server and clients without
/// touching their threads.
void drop_inherited_queues() noexcept;

/// Registers the three functions above with the node (src/queue/node_hooks.cpp).
/// Every program that can reach a queue includes this header, and so
/// registers them before main().
bool register_queue_node_hooks() noexcept;
inline const bool queue_node_hooks_registered = register_queue_node_hooks();

} // namespace actors::detail
