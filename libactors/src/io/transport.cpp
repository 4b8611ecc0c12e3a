// The node's transport: see transport.hpp. Its connections, handlers, fork
// parking and lifetime; the event loops it runs are in event_loop.cpp.

#include "io/transport.hpp"

#include "io/route.hpp"
#include "base/thread_name.hpp"

#include <actors/errors.hpp>
#include <actors/log.hpp>

#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace actors::detail {

namespace {
// Set by the node that hosts the transport (runtime/node.cpp).
transport_host host;
} // namespace

void set_transport_host(const transport_host& h) noexcept {
  host = h;
}

void prepare_first_thread() {
  if (!host.prepare)
    throw error(errc::no_node, "no libactors node runs in this process");
  host.prepare();
}

namespace {

std::mutex transport_mtx;
transport* the_transport = nullptr;

std::atomic<transport*> fast_transport{nullptr}; // the_transport, read without the lock

constexpr std::size_t flush_now_bytes = 256 * 1024; // a buffer this big is written at once

} // namespace

peer::~peer() {
  if (fd_ >= 0)
    ::close(fd_);
}

// -- the transport ----------------------------------------------------------------

transport& transport::get() {
  if (auto* t = fast_transport.load(std::memory_order_acquire))
    return *t;
  // The fork server must exist before this process's first thread, and
  // before transport_mtx is taken (see "Fork-safety rule" in architecture.md).
  prepare_first_thread();
  std::lock_guard<std::mutex> guard(transport_mtx);
  if (!the_transport) {
    the_transport = new transport;
    host.remove_at_exit(the_transport->dir());
    fast_transport.store(the_transport, std::memory_order_release);
  }
  return *the_transport;
}

transport* transport::running_fast() noexcept {
  return fast_transport.load(std::memory_order_acquire);
}

transport* transport::running() noexcept {
  std::lock_guard<std::mutex> guard(transport_mtx);
  return the_transport;
}

transport::transport()
    : inbound_(this, server_.fd(), "actors.inbound", true),
      outbound_(this, -1, "actors.outbound", true) {
  inbound_.start();
  // The outbound loop starts with the first connection this node dials: a
  // node that only serves (a root whose children may ask its registry, say)
  // runs one loop thread.
}

void transport::bind_system(caf::actor_system& sys) noexcept {
  inbound_.bind_system(sys);
  outbound_.bind_system(sys);
}

void transport::on(std::uint8_t op, handler h) {
  handlers_[op] = std::move(h);
}

void transport::on_close(close_handler h) {
  close_handlers_.push_back(std::move(h));
}

peer_ptr transport::connect(const std::string& endpoint) {
  {
    std::lock_guard<std::mutex> guard(peers_mtx_);
    auto it = dialled_.find(endpoint);
    if (it != dialled_.end() && !it->second->closed())
      return it->second;
  }
  int pid = 0;
  auto fd = connect_endpoint(endpoint, &pid); // another host's failures throw their own message
  if (!fd)
    throw error(errc::eof, "cannot reach the node at " + endpoint + ": "
                             + std::string(std::strerror(errno)) + " (its process has ended)");
  int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK);
  auto p = std::make_shared<peer>();
  p->fd_ = fd.release();
  p->pid_ = pid;
  p->endpoint_ = endpoint;
  p->loop_ = &outbound_;
  {
    std::lock_guard<std::mutex> guard(peers_mtx_);
    auto it = dialled_.find(endpoint);
    if (it != dialled_.end() && !it->second->closed())
      return it->second; // another thread won the race; ours closes
    dialled_[endpoint] = p;
    peers_[p->fd_] = p;
    if (!outbound_.started())
      outbound_.start();
  }
  outbound_.add(p);
  return p;
}

void transport::forget(const std::string& endpoint) {
  peer_ptr p;
  {
    std::lock_guard<std::mutex> guard(peers_mtx_);
    auto it = dialled_.find(endpoint);
    if (it == dialled_.end())
      return;
    p = it->second;
  }
  if (!p->closed())
    drop(p);
}

void transport::accept_all() {
  int pid = 0;
  while (auto fd = accept_same_user(server_.fd(), pid, "actor transport")) {
    auto p = std::make_shared<peer>();
    p->fd_ = fd.release();
    p->pid_ = pid;
    p->loop_ = &inbound_;
    {
      std::lock_guard<std::mutex> guard(peers_mtx_);
      peers_[p->fd_] = p;
    }
    inbound_.add(p);
  }
}

bool transport::send(const peer_ptr& p, const std::string& payload, bool urgent) {
  if (payload.size() > frame_cap())
    throw error(errc::frame_too_large,
                "an actor message of " + std::to_string(payload.size())
                  + " bytes is over the frame cap of " + std::to_string(frame_cap())
                  + " bytes (actors::set_max_frame_size)");
  {
    std::lock_guard<std::mutex> guard(p->out_mtx_);
    if (p->write_dead_)
      return false;
    char h[frame_header_size];
    put_header(h, {static_cast<std::uint32_t>(payload.size()), 0, frame_kind::object});
    p->out_.append(h, sizeof h);
    p->out_ += payload;
    if (p->writing_)
      return true; // the thread writing now takes it along
    // On a loop thread, the loop writes it once the batch it is handling is
    // done (replies and tells coalesce into one send per peer). Elsewhere,
    // a tell is left to the peer's loop, which wakes up for it.
    auto* here = event_loop::current();
    if ((!urgent || here) && p->out_.size() < flush_now_bytes) {
      if (!p->queued_) {
        p->queued_ = true;
        (here ? here : p->loop_)->queue_flush(p);
      }
      return true;
    }
  }
  p->loop_->drain(*p, !on_a_loop());
  return !p->write_dead_;
}

void transport::dispatch(const peer_ptr& p, const char* data, std::size_t size) {
  auto op = static_cast<std::uint8_t>(data[0]);
  if (!handlers_[op]) {
    log::error() << "actor transport: a frame with unknown operation " << int(op) << " from pid "
                 << p->pid_ << " was ignored";
    return;
  }
  handlers_[op](p, data + 1, size - 1);
}

void transport::drop(const peer_ptr& p) {
  if (p->closed_.exchange(true))
    return;
  if (p->loop_ && p->loop_->epoll_ >= 0)
    ::epoll_ctl(p->loop_->epoll_, EPOLL_CTL_DEL, p->fd_, nullptr);
  ::shutdown(p->fd_, SHUT_RDWR); // a writer blocked in poll() wakes up
  {
    std::lock_guard<std::mutex> g(p->out_mtx_);
    p->write_dead_ = true;
    p->out_.clear();
  }
  {
    std::lock_guard<std::mutex> guard(peers_mtx_);
    peers_.erase(p->fd_);
    auto it = dialled_.find(p->endpoint_);
    if (it != dialled_.end() && it->second == p)
      dialled_.erase(it);
  }
  for (auto& h : close_handlers_)
    h(p);
  // The descriptor closes with the last reference to the peer.
}

void transport::stop() noexcept {
  std::vector<peer_ptr> all;
  {
    std::lock_guard<std::mutex> guard(peers_mtx_);
    for (auto& [fd, p] : peers_)
      all.push_back(p);
  }
  for (auto& p : all) // what is still buffered (a last down notice) goes out
    p->loop_->drain(*p, false);
  inbound_.stop();
  outbound_.stop();
  for (auto& p : all)
    drop(p);
  inbound_.close_fds();
  outbound_.close_fds();
  server_.close();
}

void transport::park_for_fork() {
  // A loop busy in a long actor method is not waited for: a fork must not
  // hang on user code, and such a thread sits in that code, not in a lock
  // of the allocator's.
  constexpr std::chrono::milliseconds limit{100};
  if (!inbound_.park(limit))
    log::debug() << "fork: the inbound loop stayed busy; forking anyway";
  if (!outbound_.park(limit))
    log::debug() << "fork: the outbound loop stayed busy; forking anyway";
}

void transport::unpark_after_fork() noexcept {
  inbound_.unpark();
  outbound_.unpark();
}

void transport::forget_after_fork() noexcept {
  // The loop threads do not exist in a fork()ed child: close our copies of
  // their descriptors so the parent's peers still see only the parent.
  for (auto& [fd, p] : peers_) {
    ::close(p->fd_);
    p->fd_ = -1;
  }
  inbound_.close_fds();
  outbound_.close_fds();
  server_.forget();
}

std::vector<peer_ptr> transport::dialled() {
  std::vector<peer_ptr> out;
  std::lock_guard<std::mutex> guard(peers_mtx_);
  for (auto& [ep, p] : dialled_)
    if (!p->closed())
      out.push_back(p);
  return out;
}

void stop_transport() noexcept {
  transport* t = nullptr;
  {
    std::lock_guard<std::mutex> guard(transport_mtx);
    std::swap(t, the_transport);
    fast_transport.store(nullptr);
  }
  if (t) {
    t->stop();
    // Peers and actor refs may outlive the node (static handles): the
    // object itself is kept, its descriptors are closed.
    static auto* retired = new std::vector<transport*>;
    retired->push_back(t);
  }
}

void drop_inherited_transport() noexcept {
  if (the_transport) {
    the_transport->forget_after_fork();
    the_transport = nullptr; // leaked: its thread objects cannot be destroyed here
    fast_transport.store(nullptr);
  }
}

} // namespace actors::detail
