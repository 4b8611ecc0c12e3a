// How the node's service loop drives a pool (pool/supervisor.hpp): worker
// sockets and sentinels watched, posted wake-ups, deadline and grace timers,
// the step after every event, the end of the pool, and the pools' part in
// their node's life (node stop, fork child).

#include <actors/detail/pool_core.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "io/service_loop.hpp"
#include "runtime/node_hooks.hpp"
#include "runtime/runtime.hpp"
#include "pool/supervisor.hpp"

#include <algorithm>
#include <chrono>
#include <sys/epoll.h>
#include <unistd.h>

namespace actors::detail {

namespace {

// The pools attached to the service loop and not finished yet. Loop thread
// only (and a fork child, which has no other thread).
std::vector<pool_core*>& live_pools() {
  static auto* pools = new std::vector<pool_core*>; // outlives exit-time hooks
  return *pools;
}

void stop_pools() noexcept {
  auto* l = service_loop_if_running();
  if (!l)
    return;
  l->call([] {
    auto pools = live_pools(); // a copy: each one leaves the list as it ends
    for (auto* p : pools)
      p->end_now();
  });
}

void drop_inherited_pools() noexcept {
  for (auto* p : live_pools())
    p->forget_after_fork();
  live_pools().clear();
}

} // namespace

void register_pool_node_hooks() noexcept {
  static const bool done = [] {
    node_hooks h;
    h.stop = &stop_pools;
    h.drop_inherited = &drop_inherited_pools;
    add_node_hooks(h);
    return true;
  }();
  (void) done;
}

pool_core::~pool_core() {
  // A pool handle terminates and joins its pool first; only a pool whose
  // start failed half-way can still be on the loop here.
  bool on_loop;
  {
    std::lock_guard<std::mutex> lock(mtx);
    on_loop = attached_ && !finished;
  }
  if (on_loop)
    loop_.call([this] { end_now(); });
}

void pool_core::attach() {
  {
    std::lock_guard<std::mutex> lock(mtx);
    attached_ = true;
  }
  loop_.post([self = shared_from_this()] {
    live_pools().push_back(self.get());
    self->step();
  });
}

void pool_core::wake() {
  // The node's stop ends every pool before it stops the loop, and a pool
  // used by another thread while its node stops posts to a loop that was
  // retired, not deleted, which drops the post (stop_service_loop). A weak
  // reference: a step still queued when the pool has ended finds nothing to
  // do rather than a destroyed pool.
  loop_.post([weak = weak_from_this()] {
    if (auto self = weak.lock())
      self->step();
  });
}

void pool_core::schedule_step() {
  // Once per batch of events: posted from the loop, it runs after the batch.
  if (step_posted_)
    return;
  step_posted_ = true;
  loop_.post([weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->step_posted_ = false;
      self->step();
    }
  });
}

// What run()'s loop did once per wake-up: take the new jobs and flags, reap
// the workers that exited, cancel, fail a broken pool's jobs, start workers,
// dispatch, publish the figures, and end the pool when it is drained or
// terminated. Then it watches what it now waits for.
void pool_core::step() noexcept {
  if (ending_ || over_)
    return;
  check_deadlines();
  bool is_closed, is_terminating, cancel;
  std::exception_ptr broken_now;
  {
    std::lock_guard<std::mutex> lock(mtx);
    for (auto& j : inbox)
      pending_.push_back(std::move(j));
    inbox.clear();
    is_closed = closed;
    is_terminating = terminating;
    cancel = std::exchange(cancel_pending, false);
    broken_now = broken;
  }
  // Workers that reached EOF and exited are reaped; their unfinished jobs
  // go back to the queue (and are failed below if the pool is broken).
  bool changed = false;
  for (std::size_t i = 0; i < workers_.size();) {
    if (workers_[i]->eof && workers_[i]->exited) {
      reap(*workers_[i]);
      workers_.erase(workers_.begin() + static_cast<long>(i));
      changed = true;
      continue;
    }
    ++i;
  }
  if (cancel) {
    std::deque<job> keep;
    for (auto& j : pending_)
      if (!j.sink->cancel())
        keep.push_back(std::move(j));
    pending_ = std::move(keep);
  }
  if (broken_now) {
    for (auto& j : pending_)
      fail(j, broken_now);
    pending_.clear();
  }
  if (is_terminating) {
    begin_end(false);
    return maybe_finish(); // last: the pool may be gone after it
  }

  // A worker that retires (maxtasksperchild) holds its place until it has
  // exited and been reaped above: the pool never runs more than
  // `processes` workers, so one worker means one task at a time, in order.
  bool needed = !(is_closed && pending_.empty()) && !broken_now;
  auto wanted = static_cast<std::size_t>(cfg.processes);
  if (cfg.on_demand) { // only for the tasks that no idle worker can take
    auto idle = idle_workers();
    auto unserved = pending_.size() > idle ? pending_.size() - idle : 0;
    wanted = std::min(wanted, workers_.size() + unserved);
  }
  for (auto live = workers_.size(); needed && live < wanted; ++live) {
    try {
      start_worker();
      changed = true;
    } catch (const std::exception& e) {
      log::error() << "pool: a worker could not be started: " << e.what();
      if (workers_.empty()) {
        std::lock_guard<std::mutex> lock(mtx);
        broken = std::current_exception();
      }
      break;
    }
  }
  if (changed)
    publish_pids();

  dispatch();
  {
    // A worker runs one job at a time; the others sent to it (its window)
    // wait in its socket, so they count as queued, not running.
    std::size_t busy = 0, waiting = pending_.size();
    for (auto& w : workers_)
      if (!w->inflight.empty()) {
        ++busy;
        waiting += w->inflight.size() - 1;
      }
    queued = waiting;
    running = busy;
  }

  if (is_closed && pending_.empty() && idle()) {
    begin_end(true); // EOF on their sockets: the workers exit normally
    return maybe_finish();
  }
  watch_workers();
  arm_deadline();
}

void pool_core::on_socket(worker& w, std::uint32_t events) {
  if (events & EPOLLOUT)
    flush(w);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
    read_from(w);
  if (w.eof) {
    unwatch_socket(w);
    await_exit(w);
  }
  schedule_step();
}

void pool_core::watch_workers() {
  for (auto& wp : workers_) {
    auto& w = *wp;
    if (w.eof || !w.sock)
      continue;
    std::uint32_t want = EPOLLIN | (w.out.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
    if (w.watching == want)
      continue;
    if (w.watching == 0)
      loop_.watch(w.sock.get(), want, [this, p = &w](std::uint32_t ev) { on_socket(*p, ev); });
    else
      loop_.rewatch(w.sock.get(), want);
    w.watching = want;
  }
}

void pool_core::unwatch_socket(worker& w) noexcept {
  if (w.watching != 0)
    loop_.unwatch(w.sock.get());
  w.watching = 0;
}

// A worker whose socket closed, or that was told to stop: its exit is
// awaited without blocking the loop. Its sentinel becomes readable when it
// exits; if it has not after the grace join_or_kill gives, it is killed.
void pool_core::await_exit(worker& w) {
  if (w.exited || w.sentinel >= 0)
    return;
  try {
    if (w.proc->exited_now()) {
      w.exited = true;
      return;
    }
    w.sentinel = w.proc->sentinel();
    if (w.sentinel < 0) { // no pidfd (a kernel before 5.3): wait as before
      w.proc->join_or_kill();
      w.exited = true;
      return;
    }
  } catch (const std::exception& e) {
    log::error() << "pool: worker pid " << w.pid << " cannot be waited for: " << e.what();
    w.sentinel = -1;
    w.exited = true;
    return;
  }
  loop_.watch(w.sentinel, EPOLLIN, [this, p = &w](std::uint32_t) {
    bool gone = true;
    try {
      gone = p->proc->exited_now();
    } catch (const std::exception&) {
    }
    if (!gone)
      return;
    on_exited(*p);
    if (ending_)
      return maybe_finish(); // last: the pool may be gone after it
    schedule_step();
  });
  w.grace_timer = loop_.at(clock::now() + stop_grace, [p = &w] {
    p->grace_timer = 0;
    try {
      p->proc->kill(); // its sentinel fires once it is gone
    } catch (const std::exception&) {
    }
  });
}

void pool_core::on_exited(worker& w) noexcept {
  if (w.sentinel >= 0)
    loop_.unwatch(w.sentinel);
  w.sentinel = -1;
  if (w.grace_timer != 0)
    loop_.cancel(w.grace_timer);
  w.grace_timer = 0;
  w.exited = true;
}

void pool_core::check_deadlines() {
  auto now = clock::now();
  for (auto& w : workers_)
    if (!w->eof && !w->timed_out && w->deadline <= now) {
      w->timed_out = true;
      w->proc->kill(); // the socket reaches EOF once the worker is gone
    }
}

// One timer for the earliest deadline of a running timed job.
void pool_core::arm_deadline() {
  auto next = clock::time_point::max();
  for (auto& w : workers_)
    if (!w->eof && !w->timed_out)
      next = std::min(next, w->deadline);
  if (next == deadline_at_)
    return;
  if (deadline_timer_ != 0)
    loop_.cancel(deadline_timer_);
  deadline_timer_ = 0;
  deadline_at_ = next;
  if (next == clock::time_point::max())
    return;
  deadline_timer_ = loop_.at(next, [this] {
    deadline_timer_ = 0;
    deadline_at_ = clock::time_point::max();
    step();
  });
}

// Closed and drained, or terminated: stop every worker. The pool ends
// (maybe_finish) once all of them have exited.
void pool_core::begin_end(bool close_sockets) {
  ending_ = true;
  if (deadline_timer_ != 0)
    loop_.cancel(deadline_timer_);
  deadline_timer_ = 0;
  bool terminated, kill;
  {
    std::lock_guard<std::mutex> lock(mtx);
    terminated = terminating;
    kill = kill_workers;
  }
  if (terminated)
    for (auto& w : workers_)
      if (!w->eof)
        kill ? w->proc->kill() : w->proc->terminate();
  for (auto& w : workers_) {
    unwatch_socket(*w);
    if (close_sockets)
      w->sock.reset();
  }
  for (auto& w : workers_)
    await_exit(*w);
}

// Once every worker has exited: fail what is left, and tell the callers.
// Nothing may touch the pool after this returns: a caller that sees it
// finished may destroy it.
void pool_core::maybe_finish() {
  if (over_ || !std::all_of(workers_.begin(), workers_.end(), [](auto& w) { return w->exited; }))
    return;
  over_ = true;
  // Workers that had reached EOF before the end are reaped as ever: their
  // task died with them (worker_died, or back to the queue to fail below).
  for (auto& w : workers_)
    if (w->eof)
      reap(*w);
  auto closed_error = [](const job& j) {
    return std::make_exception_ptr(error(
      errc::closed, "the pool was terminated before " + j.label.text() + " finished"));
  };
  for (auto& w : workers_)
    for (auto& s : w->inflight)
      fail(s.j, closed_error(s.j));
  for (auto& j : pending_)
    fail(j, closed_error(j));
  pending_.clear();
  workers_.clear();
  auto& pools = live_pools();
  pools.erase(std::remove(pools.begin(), pools.end(), this), pools.end());
  std::vector<job> late;
  {
    std::lock_guard<std::mutex> lock(mtx);
    late.swap(inbox);
    pids.clear();
  }
  for (auto& j : late)
    fail(j, closed_error(j));
  std::lock_guard<std::mutex> lock(mtx);
  finished = true;
  finished_cv.notify_all(); // under the lock: a waiter may destroy the pool once it has it
}

void pool_core::end_now() noexcept {
  if (over_)
    return;
  {
    std::lock_guard<std::mutex> lock(mtx);
    terminating = true;
  }
  if (!ending_)
    begin_end(false);
  for (auto& w : workers_)
    if (!w->exited) {
      try {
        w->proc->join_or_kill();
      } catch (const std::exception& e) {
        log::error() << "pool: worker pid " << w->pid << " cannot be waited for: " << e.what();
      }
      on_exited(*w);
    }
  maybe_finish();
}

void pool_core::forget_after_fork() noexcept {
  // The loop's thread is not here: the child only closes its copies of the
  // worker sockets (a worker sees EOF only once every copy is closed), and
  // a pool handle it destroys finds the pool finished.
  for (auto& w : workers_)
    if (w->sock)
      ::close(w->sock.release());
  over_ = true;
  finished = true;
}

} // namespace actors::detail
