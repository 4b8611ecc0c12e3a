#pragma once
// The node's queue server, served on the node's service loop: its
// connections and queues (server.cpp),
// its request handling (server_requests.cpp), and the entry points that start,
// stop and forget it. Never installed.

#include <actors/detail/queue_client.hpp>

#include "base/fd.hpp"
#include "io/retry_timer.hpp"
#include "io/transport.hpp"
#include "io/wire.hpp"
#include "queue/ring.hpp"
#include "runtime/stats.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <sys/uio.h>
#include <unordered_map>
#include <vector>

namespace actors::detail {

// -- server ----------------------------------------------------------------------

struct queue_state;

struct server_conn {
  int fd = -1;
  int pid = 0;
  std::string host; // a client on another host names its pid and host in its hello
  // The client, for messages: "pid 123", or "pid 123 on host h2".
  std::string who() const {
    return "pid " + std::to_string(pid) + (host.empty() ? std::string() : " on host " + host);
  }
  queue_state* q = nullptr;
  inbuf in; // received bytes not yet handled
  std::string out;
  std::size_t out_pos = 0; // sent part of `out` (erasing the front would be quadratic)
  std::deque<std::string> unacked; // fetched by the client, not yet taken
  std::uint64_t taken = 0;         // acknowledged as returned by get()
  std::uint64_t done = 0;          // task_done() count
  std::uint32_t want_get = 0;
  bool get_pending = false;
  bool join_pending = false;
  bool putter = false;  // has put or asked for room
  bool noticed = false; // sent shut_notice
  bool attached = false; // has a bounded queue's ring
  int record = -1;       // its record in the ring (joinable queues)
  bool watching = false; // waits for an item (a wait() on a bounded queue)
  // A bounded queue's client on another host, which cannot map the ring:
  // the server puts and gets for it (server_far.cpp).
  std::string far_item;         // its put that waits for room
  bool far_put_pending = false; // in queue_state::far_putters
  bool far_get_pending = false; // in queue_state::far_getters
  bool far_join_pending = false; // in queue_state::far_joiners
};

struct queue_state {
  std::uint32_t id = 0;
  std::uint64_t maxsize = 0;
  bool joinable = false;
  std::deque<std::string> items;
  std::uint64_t unfinished = 0;
  std::string abandoned; // why the next join() fails, if a consumer died
  bool shut_down = false;
  bool immediate = false; // shut down dropping its items
  std::deque<server_conn*> getters, joiners;
  // A bounded queue's items are in this ring, which clients attach to and
  // use directly; the server only hands it out, answers watchers, and frees
  // the records of clients that leave.
  std::unique_ptr<ring> rng;
  std::deque<server_conn*> watchers;
  // Clients on other hosts whose put, get or join waits: the server retries
  // them when a local put pokes it and every far_retry (server_far.cpp).
  std::deque<server_conn*> far_putters, far_getters, far_joiners;
  std::uint64_t puts = 0, gets = 0; // items in and out, for actors-top
};

/// Takes a connection off one of a queue's wait lists.
inline void withdraw(std::deque<server_conn*>& waiting, server_conn* c) {
  waiting.erase(std::remove(waiting.begin(), waiting.end(), c), waiting.end());
}

class server {
public:
  server();
  ~server();

  queue_address create(std::uint64_t maxsize, bool joinable);
  /// Takes over a connection to the node's socket whose first frame (at the
  /// front of `in`) is a hello (runtime/control.hpp). Loop thread.
  void adopt(unique_fd fd, int pid, inbuf in);
  /// The queues' figures for actors-top. Loop thread.
  void add_stats(node_stats& s);
  void stop() noexcept;
  void forget_after_fork() noexcept;

private:
  void on_events(int fd, std::uint32_t events);
  void handle_buffered(server_conn& c, bool eof);
  void on_readable(server_conn& c);
  bool handle(server_conn& c, const char* data, std::size_t size);
  void send(server_conn& c, const std::string& payload);
  void sendv(server_conn& c, iovec* iov, std::size_t count);
  void send_items(server_conn& c, std::uint32_t n);
  void flush_out(server_conn& c);
  void drop(server_conn& c);
  void serve(queue_state& q);
  void answer_watchers(queue_state& q);
  void claim_record(server_conn& c, queue_state& q);
  // A bounded queue's clients on other hosts (server_far.cpp).
  bool handle_far(server_conn& c, queue_state& q, std::uint8_t code, const char* data,
                  std::size_t size);
  void serve_far(queue_state& q);
  void forget_far(server_conn& c);
  void retry_far();

  std::string path_;  // the node's socket (runtime/control.hpp)
  event_loop& loop_;  // the node's service loop
  bool stopped_ = false;
  std::mutex mtx_; // guards queues_ creation against the loop's lookups
  std::unordered_map<std::uint32_t, std::unique_ptr<queue_state>> queues_;
  std::uint32_t next_id_ = 1;
  std::unordered_map<int, std::unique_ptr<server_conn>> conns_;
  retry_timer far_retry_;     // retry_far(), while far calls wait (loop thread)
  std::string scratch_;       // a get reply's small parts
  std::vector<iovec> iov_;    // ... and where its parts are
};

/// Creates a queue on this node's server, which starts on first use.
queue_address create_on_node_server(std::uint64_t maxsize, bool joinable);

/// Stops this node's server and deletes it, if there is one.
void stop_node_server() noexcept;

/// In a fork()ed child: forgets the inherited server without stopping it.
void forget_inherited_node_server() noexcept;

} // namespace actors::detail
