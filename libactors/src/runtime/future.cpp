// Futures' shared state, and how waiting calls notice SIGINT.

#include <actors/future.hpp>
#include <actors/log.hpp>

#include "io/service_loop.hpp"
#include "io/transport.hpp"
#include "runtime/runtime.hpp"

#include <atomic>
#include <csignal>
#include <sched.h>
#include <ostream>

namespace actors::detail {

namespace {

// The state whose callbacks this thread runs: they may read its result.
thread_local const task_state* in_callbacks_of = nullptr;

// Calls waiting on results now, and SIGINTs seen while any waited.
std::atomic<int> waiters{0};
std::atomic<unsigned> interrupts{0};

// Not extern "C": that would give it a global name in every user program.
// Counts first, then looks for waiters: a waiter that leaves looks at the
// count after it stopped counting as a waiter, so each SIGINT is either
// seen by a waiter or ends the program, never neither.
void actors_sigint_handler(int) {
  interrupts.fetch_add(1);
  if (waiters.load() > 0)
    return;
  // Nobody waits: SIGINT does what it would have done without us.
  ::signal(SIGINT, SIG_DFL);
  ::raise(SIGINT);
}

} // namespace

void catch_sigint() noexcept {
  static std::atomic<bool> done{false};
  if (done.exchange(true))
    return;
  struct sigaction old {};
  if (::sigaction(SIGINT, nullptr, &old) != 0 || old.sa_handler != SIG_DFL)
    return; // the program handles (or ignores) SIGINT itself
  struct sigaction sa {};
  sa.sa_handler = actors_sigint_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
}

bool on_reply_loop() noexcept {
  auto* t = transport::running();
  return t && t->on_outbound_loop();
}

bool wait_interruptibly(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                        std::chrono::steady_clock::time_point deadline,
                        const std::function<bool()>& done) {
  if (done())
    return true;
  if (on_service_loop())
    throw error(errc::bad_argument,
                "waiting for a result inside a pool callback would deadlock: callbacks run on "
                "the node's service loop, which delivers the results of every pool; keep "
                "callbacks short and wait for results elsewhere");
  if (on_reply_loop())
    throw error(errc::bad_argument,
                "waiting for a result on the thread that delivers actors' replies would "
                "deadlock (a monitor callback?): keep such callbacks short, or use "
                "actors::self().then(...) inside an actor");
  // Inside an actor's method on a transport loop: the asks it just sent
  // wait for the end of the loop's batch, which comes after this wait.
  if (auto* loop = event_loop::current())
    loop->flush_now();
  // The count is read before this call counts as a waiter: a SIGINT in
  // between ends the program (nobody waited yet), one after it is ours.
  auto seen = interrupts.load();
  auto interrupted = [&] { return interrupts.load() != seen; };
  bool ok = false;
  {
    waiters.fetch_add(1); // from here a SIGINT is ours to throw
    struct leave {
      ~leave() { waiters.fetch_sub(1); }
    } guard;
    if (auto spin = busy_poll_slot().load(std::memory_order_relaxed); spin > 0) {
      // A result that comes within the busy-poll time is taken without
      // sleeping (see event_loop::run); the core is yielded meanwhile.
      auto until = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin));
      do {
        lock.unlock();
        ::sched_yield();
        lock.lock();
        ok = done();
      } while (!ok && !interrupted() && std::chrono::steady_clock::now() < until);
    }
    for (; !ok;) {
      if (interrupted())
        break;
      auto slice = next_slice(deadline);
      if (slice == std::chrono::steady_clock::duration::zero()) {
        ok = done();
        break;
      }
      if (cv.wait_for(lock, slice, done)) {
        ok = true;
        break;
      }
    }
  }
  // A SIGINT that came while we waited is thrown even if the result came in
  // the same slice: the handler left it to us instead of ending the program.
  if (interrupted())
    throw keyboard_interrupt("interrupted by SIGINT (Ctrl-C) while waiting for results");
  return ok;
}

bool task_state::claim(std::size_t) {
  std::lock_guard<std::mutex> lock(mtx_);
  if (status_ == status::pending)
    status_ = status::running;
  return status_ == status::running;
}

bool task_state::cancel() {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mtx_);
    if (status_ != status::pending)
      return status_ == status::cancelled;
    status_ = status::cancelled;
    error_ = std::make_exception_ptr(cancelled_error("the task was cancelled before it started"));
    callbacks.swap(callbacks_);
  }
  settle(callbacks);
  return true;
}

void task_state::fail(std::size_t, std::exception_ptr e) {
  finish(status::failed, std::move(e));
}

bool task_state::start_unless_cancelled() {
  std::lock_guard<std::mutex> lock(mtx_);
  switch (status_) {
    case status::pending:
      status_ = status::running;
      return true;
    case status::cancelled:
      return false;
    case status::running:
      throw actors::error(errc::bad_argument,
                  "future_source::set_running_or_notify_cancel: the future is running "
                  "already; call it once, before set_result() or set_exception()");
    default:
      throw actors::error(errc::bad_argument,
                  "future_source::set_running_or_notify_cancel: the future has finished "
                  "already; call it once, before set_result() or set_exception()");
  }
}

bool task_state::end_locked(status s, std::exception_ptr e,
                            std::vector<std::function<void()>>& callbacks) {
  if (status_ >= status::succeeded)
    return false; // ended already (a map's later chunks after its first failure)
  status_ = s;
  error_ = std::move(e);
  callbacks.swap(callbacks_);
  return true;
}

bool task_state::try_finish(status s, std::exception_ptr e) {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mtx_);
    if (!end_locked(s, std::move(e), callbacks))
      return false;
  }
  settle(callbacks);
  return true;
}

// Runs the callbacks, then lets waiters go: as in Python, a result's
// callback has run by the time get() or wait() returns.
void task_state::settle(std::vector<std::function<void()>>& callbacks) {
  auto* outer = std::exchange(in_callbacks_of, this);
  for (auto& fn : callbacks) {
    try {
      fn();
    } catch (const std::exception& e) {
      log::error() << "a future's callback threw " << e.what();
    } catch (...) {
      log::error() << "a future's callback threw";
    }
  }
  in_callbacks_of = outer;
  {
    std::lock_guard<std::mutex> lock(mtx_);
    settled_ = true;
  }
  cv_.notify_all();
}

bool task_state::wait(duration timeout) {
  std::unique_lock<std::mutex> lock(mtx_);
  return wait_interruptibly(lock, cv_, deadline_in(timeout), [this] {
    return settled_ || (status_ >= status::succeeded && in_callbacks_of == this);
  });
}

task_state::status task_state::current() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return status_;
}

std::exception_ptr task_state::error() const {
  std::lock_guard<std::mutex> lock(mtx_);
  return error_;
}

void task_state::on_done(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mtx_);
    if (status_ < status::succeeded) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  auto* outer = std::exchange(in_callbacks_of, this);
  fn();
  in_callbacks_of = outer;
}

std::ostream& describe_future(std::ostream& os, const task_state* state) {
  os << "<actors::future ";
  if (!state)
    return os << "invalid>";
  switch (state->current()) {
    case task_state::status::pending:
      return os << "pending>";
    case task_state::status::running:
      return os << "running>";
    case task_state::status::succeeded:
      return os << "finished>";
    case task_state::status::cancelled:
      return os << "cancelled>";
    case task_state::status::failed:
      break;
  }
  os << "failed";
  try {
    if (auto e = state->error())
      std::rethrow_exception(e);
  } catch (const std::exception& e) {
    os << ": " << e.what();
  } catch (...) {
  }
  return os << '>';
}

} // namespace actors::detail
