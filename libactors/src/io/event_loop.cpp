// The event loops: one epoll loop per thread. A transport's loops read and
// write the peers' frames and run the actors they wake (a CAF execution
// unit); every loop serves watched descriptors, timers and posted work. Also
// the busy-poll setting. The transport itself is in transport.cpp.

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

event_loop::event_loop(transport* owner, int listener, const char* name, bool busy_poll)
    : owner_(owner), name_(name), busy_poll_(busy_poll), listener_(listener) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_ < 0 || wake_ < 0)
    throw_errno("event loop: epoll_create1/eventfd");
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
  started_.store(true, std::memory_order_release);
}

event_loop* event_loop::current() noexcept {
  return this_loop && this_loop->owner_ ? this_loop : nullptr;
}

bool event_loop::on_this_thread() const noexcept {
  return this_loop == this;
}

void event_loop::add(const peer_ptr& p) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = p->fd_;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, p->fd_, &ev);
}

void event_loop::watch(int fd, std::uint32_t events, fd_handler fn) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw_errno("event loop: epoll_ctl(ADD)");
  watched_[fd] = std::make_shared<fd_handler>(std::move(fn));
}

void event_loop::rewatch(int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
}

void event_loop::unwatch(int fd) noexcept {
  if (watched_.erase(fd) > 0 && epoll_ >= 0)
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
}

event_loop::timer_id event_loop::at(clock::time_point when, std::function<void()> fn) {
  auto id = next_timer_++;
  timers_.emplace(std::make_pair(when, id), std::move(fn));
  timer_due_.emplace(id, when);
  return id;
}

void event_loop::cancel(timer_id id) noexcept {
  auto it = timer_due_.find(id);
  if (it == timer_due_.end())
    return;
  timers_.erase({it->second, id});
  timer_due_.erase(it);
}

void event_loop::run_timers() {
  auto now = clock::now();
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto node = timers_.extract(timers_.begin());
    timer_due_.erase(node.key().second);
    node.mapped()(); // may add or cancel timers
  }
}

void event_loop::set_tick(std::chrono::milliseconds every, std::function<void()> fn) {
  post([this, every, fn = std::move(fn)] { tick(every, fn); });
}

void event_loop::tick(std::chrono::milliseconds every, std::function<void()> fn) {
  at(clock::now() + every, [this, every, fn = std::move(fn)] {
    fn();
    tick(every, fn); // each tick schedules the next
  });
}

void event_loop::call(const std::function<void()>& fn) {
  if (!started() || this_loop == this || stopping_.load()) {
    fn();
    return;
  }
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  post([&] {
    fn();
    std::lock_guard<std::mutex> lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return done; });
}

bool event_loop::park(std::chrono::milliseconds limit) {
  park_requests_.fetch_add(1);
  if (!started() || this_loop == this)
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

void event_loop::flush_now() {
  std::vector<peer_ptr> flush;
  {
    std::lock_guard<std::mutex> g(posted_mtx_);
    flush.swap(to_flush_);
  }
  for (auto& p : flush) {
    {
      std::lock_guard<std::mutex> g(p->out_mtx_);
      p->queued_ = false;
    }
    drain(*p, true); // this loop waits next: nobody else would finish the write
  }
}

void event_loop::post(std::function<void()> fn) {
  std::function<void()> dropped; // destroyed after the lock is released
  std::lock_guard<std::mutex> g(posted_mtx_);
  if (retired_) {
    dropped = std::move(fn);
    return;
  }
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

int event_loop::wait(epoll_event* events, int max, bool spin) {
  if (spin)
    return ::epoll_wait(epoll_, events, max, 0);
  if (timers_.empty())
    return ::epoll_wait(epoll_, events, max, -1);
  // Timers to the microsecond (the queue clients' flush timer's is 200 us):
  // epoll_pwait2.
  auto left = std::max(timers_.begin()->first.first - clock::now(), clock::duration::zero());
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  int n = ::epoll_pwait2(epoll_, events, max, &ts, nullptr);
  if (n < 0 && errno == ENOSYS) // a kernel older than 5.11: to the millisecond
    n = ::epoll_wait(epoll_, events, max, static_cast<int>((ns + 999'999) / 1'000'000));
  return n;
}

void event_loop::run() {
  this_loop = this;
  // run_here() returns to its caller's thread, which must not keep
  // pointing at a loop that may be gone.
  struct forget_loop {
    ~forget_loop() { this_loop = nullptr; }
  } forget;
  if (name_)
    name_this_thread(name_);
  epoll_event events[64];
  clock::time_point spin_until{};
  for (;;) {
    // Busy polling: for a while after the last event, look again at once
    // instead of sleeping (yielding the core to anyone who needs it), so
    // the answer to what was just sent is read without a wake-up.
    auto spin_for = busy_poll_ ? busy_poll_slot().load(std::memory_order_relaxed) : 0;
    bool spin = spin_for > 0 && clock::now() < spin_until;
    int n = wait(events, 64, spin);
    if (n > 0 && spin_for > 0)
      spin_until = clock::now() + std::chrono::nanoseconds(spin_for);
    else if (n == 0 && spin)
      ::sched_yield();
    if (park_requests_.load() > 0) // a fork is under way: wait it out
      wait_while_parked();
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return;
    run_timers();
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_) {
        if (stopping_.load())
          return;
        std::uint64_t count;
        (void) !::read(wake_, &count, sizeof count);
        continue;
      }
      if (fd == listener_ && owner_) {
        owner_->accept_all();
        continue;
      }
      if (auto w = watched_.find(fd); w != watched_.end()) {
        auto fn = w->second; // the handler may unwatch itself
        (*fn)(events[i].events);
        continue;
      }
      if (!owner_)
        continue;
      peer_ptr p;
      {
        std::lock_guard<std::mutex> guard(owner_->peers_mtx_);
        auto it = owner_->peers_.find(fd);
        if (it == owner_->peers_.end())
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
  std::string why;
  auto status = each_frame(p->in_, [&](const char* payload, std::size_t size) {
    owner_->dispatch(p, payload, size);
    return true;
  }, why);
  for (auto& fn : owner_->read_end_) // what came before a bad frame still runs
    fn();
  if (status == frames_status::bad) {
    log::error() << "actor transport: closing the connection of pid " << p->pid_
                 << " after a bad frame: " << why;
    owner_->drop(p);
    return;
  }
  if (eof)
    owner_->drop(p);
}

void event_loop::quit() noexcept {
  stopping_ = true;
  wake();
}

void event_loop::stop() noexcept {
  if (thread_.joinable()) {
    quit();
    thread_.join();
  }
}

void event_loop::retire() noexcept {
  std::vector<std::function<void()>> dropped; // destroyed after the lock is released
  std::lock_guard<std::mutex> g(posted_mtx_);
  retired_ = true;
  dropped.swap(posted_);
}

void event_loop::close_fds() noexcept {
  for (int fd : {epoll_, wake_})
    if (fd >= 0)
      ::close(fd);
  epoll_ = wake_ = -1;
}

} // namespace actors::detail
