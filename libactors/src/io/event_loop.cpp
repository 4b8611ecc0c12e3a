// The transport's event loops: one epoll loop per thread, which reads and
// writes the peers' frames and runs the actors they wake (a CAF execution
// unit), and the busy-poll setting. The transport itself is in transport.cpp.

#include "io/transport.hpp"
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

std::atomic<std::int64_t>& busy_poll_slot() {
  static std::atomic<std::int64_t> ns{[] {
    std::int64_t us = 50;
    if (const char* e = std::getenv("ACTORS_BUSY_POLL_US")) {
      char* end = nullptr;
      long long v = std::strtoll(e, &end, 10);
      if (end != e && *end == '\0' && v >= 0 && v <= 10'000)
        us = v;
      else
        std::fprintf(stderr, "actors: ACTORS_BUSY_POLL_US=%s is not a number of microseconds "
                             "from 0 to 10000; using 50\n", e);
    }
    return us * 1000;
  }()};
  return ns;
}

namespace {

thread_local event_loop* this_loop = nullptr;

constexpr std::size_t loop_throughput = 64;         // messages per actor per resume here

} // namespace

// -- one loop ---------------------------------------------------------------------

event_loop::event_loop(transport& owner, int listener) : owner_(owner), listener_(listener) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
  if (listener_ >= 0) {
    ev.data.fd = listener_;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &ev);
  }
}

void event_loop::start() {
  thread_ = std::thread([this] { run(); });
}

event_loop* event_loop::current() noexcept {
  return this_loop;
}

void event_loop::add(const peer_ptr& p) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = p->fd_;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, p->fd_, &ev);
}

void event_loop::set_tick(std::chrono::milliseconds every, std::function<void()> fn) {
  post([this, every, fn = std::move(fn)]() mutable {
    tick_ = std::move(fn);
    tick_ms_ = static_cast<int>(every.count());
    next_tick_ = std::chrono::steady_clock::now() + every;
  });
}
bool event_loop::park(std::chrono::milliseconds limit) {
  park_requests_.fetch_add(1);
  if (!thread_.joinable() || this_loop == this)
    return true;
  wake();
  std::unique_lock<std::mutex> lock(park_mtx_);
  return park_cv_.wait_for(lock, limit, [this] { return parked_; });
}

void event_loop::unpark() noexcept {
  {
    std::lock_guard<std::mutex> lock(park_mtx_);
    park_requests_.fetch_sub(1);
  }
  park_cv_.notify_all();
}

void event_loop::wait_while_parked() {
  std::unique_lock<std::mutex> lock(park_mtx_);
  parked_ = true;
  park_cv_.notify_all();
  park_cv_.wait(lock, [this] { return park_requests_.load() == 0; });
  parked_ = false;
}

void event_loop::wake() noexcept {
  std::uint64_t one = 1;
  (void) !::write(wake_, &one, sizeof one);
}

void event_loop::queue_flush(const peer_ptr& p) {
  std::lock_guard<std::mutex> g(posted_mtx_);
  bool wake_it = posted_.empty() && to_flush_.empty() && this_loop != this;
  to_flush_.push_back(p);
  if (wake_it)
    wake();
}

void event_loop::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> g(posted_mtx_);
  bool wake_it = posted_.empty() && to_flush_.empty() && this_loop != this;
  posted_.push_back(std::move(fn));
  if (wake_it)
    wake();
}

void event_loop::drain(peer& p, bool may_block) {
  std::unique_lock<std::mutex> lock(p.out_mtx_);
  if (p.writing_ || p.write_dead_)
    return;
  p.writing_ = true;
  while (!p.out_.empty()) {
    std::string chunk;
    chunk.swap(p.out_);
    lock.unlock();
    std::size_t off = 0;
    bool blocked = false, dead = false;
    while (off < chunk.size()) {
      auto n = ::send(p.fd_, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!may_block) {
          blocked = true;
          break;
        }
        pollfd pfd{p.fd_, POLLOUT, 0};
        if ((::poll(&pfd, 1, 100) < 0 && errno != EINTR) || p.closed()
            || (pfd.revents & (POLLERR | POLLHUP))) {
          dead = true;
          break;
        }
        continue;
      }
      dead = true;
      break;
    }
    lock.lock();
    if (dead) {
      p.write_dead_ = true;
      p.out_.clear();
      break;
    }
    if (blocked) {
      p.out_.insert(0, chunk, off, std::string::npos);
      p.writing_ = false;
      set_epollout(p, true);
      return;
    }
  }
  p.writing_ = false;
}

void event_loop::set_epollout(peer& p, bool on) {
  if (p.epollout_ == on)
    return;
  p.epollout_ = on;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.fd = p.fd_;
  ::epoll_ctl(epoll_, EPOLL_CTL_MOD, p.fd_, &ev);
}

void event_loop::exec_later(caf::resumable* ptr) {
  ready_.push_back(ptr); // only ever called on this loop's thread
}

void event_loop::run_ready() {
  while (!ready_.empty()) {
    std::vector<caf::resumable*> batch;
    batch.swap(ready_);
    for (auto* job : batch) {
      switch (job->resume(this, loop_throughput)) {
        case caf::resumable::resume_later:
          // More messages wait: a scheduler worker takes over, so one busy
          // actor cannot hold up the transport.
          system_->scheduler().enqueue(job);
          break;
        case caf::resumable::done:
        case caf::resumable::awaiting_message:
        case caf::resumable::shutdown_execution_unit:
          intrusive_ptr_release(job);
          break;
      }
    }
  }
}

void event_loop::run() {
  this_loop = this;
  name_this_thread(listener_ >= 0 ? "actors.inbound" : "actors.outbound");
  epoll_event events[64];
  std::chrono::steady_clock::time_point spin_until{};
  for (;;) {
    int timeout = -1;
    if (tick_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    next_tick_ - std::chrono::steady_clock::now()).count();
      timeout = static_cast<int>(std::max<long long>(0, left));
    }
    // Busy polling: for a while after the last event, look again at once
    // instead of sleeping (yielding the core to anyone who needs it), so
    // the answer to what was just sent is read without a wake-up.
    auto spin_for = busy_poll_slot().load(std::memory_order_relaxed);
    bool spin = spin_for > 0 && std::chrono::steady_clock::now() < spin_until;
    int n = ::epoll_wait(epoll_, events, 64, spin ? 0 : timeout);
    if (n > 0 && spin_for > 0)
      spin_until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_for);
    else if (n == 0 && spin)
      ::sched_yield();
    if (park_requests_.load() > 0) // a fork is under way: wait it out
      wait_while_parked();
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return;
    if (tick_ && std::chrono::steady_clock::now() >= next_tick_) {
      next_tick_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(tick_ms_);
      tick_();
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_) {
        if (stopping_.load())
          return;
        std::uint64_t count;
        (void) !::read(wake_, &count, sizeof count);
        continue;
      }
      if (fd == listener_) {
        owner_.accept_all();
        continue;
      }
      peer_ptr p;
      {
        std::lock_guard<std::mutex> guard(owner_.peers_mtx_);
        auto it = owner_.peers_.find(fd);
        if (it == owner_.peers_.end())
          continue;
        p = it->second;
      }
      if (events[i].events & EPOLLOUT) {
        {
          std::lock_guard<std::mutex> g(p->out_mtx_);
          set_epollout(*p, false);
        }
        drain(*p, false);
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(p);
    }
    service();
  }
}

void event_loop::service() {
  // Posted work, then the actors the batch woke, then every write the batch
  // produced (replies, tells), one send per peer. A thread that posts while
  // these lists are non-empty does not wake the loop: this call serves it.
  for (;;) {
    run_ready();
    std::vector<std::function<void()>> fns;
    std::vector<peer_ptr> flush;
    {
      std::lock_guard<std::mutex> g(posted_mtx_);
      fns.swap(posted_);
      flush.swap(to_flush_);
    }
    if (fns.empty() && flush.empty())
      return;
    for (auto& fn : fns)
      fn();
    run_ready();
    for (auto& p : flush) {
      {
        std::lock_guard<std::mutex> g(p->out_mtx_);
        p->queued_ = false;
      }
      drain(*p, false);
    }
  }
}

void event_loop::on_readable(const peer_ptr& p) {
  bool open = p->in_.read_from(p->fd_);
  bool eof = !open && errno != EAGAIN && errno != EWOULDBLOCK;
  std::size_t handled = 0;
  for (;;) {
    auto avail = p->in_.size() - handled;
    if (avail < frame_header_size)
      break;
    const char* at = p->in_.data() + handled;
    std::string why;
    auto h = parse_header(at, frame_cap(), why);
    if (!h || h->fds != 0 || h->kind != frame_kind::object) {
      log::error() << "actor transport: closing the connection of pid " << p->pid_
                   << " after a bad frame: "
                   << (h ? "unexpected descriptors or frame kind" : why);
      p->in_.consume(handled);
      for (auto& fn : owner_.read_end_) // what came before it still runs
        fn();
      owner_.drop(p);
      return;
    }
    if (avail - frame_header_size < h->size)
      break;
    const char* payload = at + frame_header_size;
    handled += frame_header_size + h->size;
    if (h->size == 0) {
      log::error() << "actor transport: an empty frame from pid " << p->pid_ << " was ignored";
      continue;
    }
    owner_.dispatch(p, payload, h->size);
  }
  p->in_.consume(handled);
  for (auto& fn : owner_.read_end_)
    fn();
  if (eof)
    owner_.drop(p);
}

void event_loop::stop() noexcept {
  if (thread_.joinable()) {
    stopping_ = true;
    wake();
    thread_.join();
  }
}

void event_loop::close_fds() noexcept {
  for (int fd : {epoll_, wake_})
    if (fd >= 0)
      ::close(fd);
  epoll_ = wake_ = -1;
}

} // namespace actors::detail
