// actors::thread: a function run by a detached blocking actor of the node's
// actor system, with Python's Thread lifecycle around it.

#include <actors/node.hpp>
#include <actors/thread.hpp>

#include "base/fd.hpp"
#include "runtime/control.hpp"
#include "runtime/node_hooks.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats.hpp"

#include <caf/blocking_actor.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <unistd.h>

namespace actors {

namespace detail {

struct thread_state {
  std::mutex mtx;
  std::condition_variable cv;
  std::function<void()> body;
  std::string name;
  bool daemon = false;
  bool started = false;
  int pid = 0; // the process that started it (a fork child has not the thread)
  bool finished = false;
  long native_id = 0;
};

namespace {

std::atomic<int> next_thread{1};

weak_registry<thread_state> started_threads;

void thread_stats_of(node_stats& s) {
  started_threads.each([&s](thread_state& t, bool) {
    std::lock_guard<std::mutex> l(t.mtx);
    s.threads.push_back({t.name, t.native_id, !t.finished, t.daemon});
  });
}

class thread_actor : public caf::blocking_actor {
public:
  thread_actor(caf::actor_config& cfg, std::shared_ptr<thread_state> s)
    : caf::blocking_actor(cfg), state_(std::move(s)) {}

  void act() override {
    {
      std::lock_guard<std::mutex> lock(state_->mtx);
      state_->native_id = current_tid();
    }
    try {
      state_->body();
    } catch (...) {
      // Python prints the exception and the thread ends; so do we.
      auto [type, message] = current_exception_info();
      std::fprintf(stderr, "Exception in thread %s:\n%s%s%s\n", state_->name.c_str(),
                   type.c_str(), message.empty() ? "" : ": ", message.c_str());
    }
    state_->body = nullptr; // what it captured goes now, not with the handle
    {
      std::lock_guard<std::mutex> lock(state_->mtx);
      state_->finished = true;
    }
    state_->cv.notify_all();
    if (state_->daemon)
      node_daemon_threads(-1);
  }

private:
  std::shared_ptr<thread_state> state_;
};

} // namespace

// Python's threading._shutdown(): waits for every non-daemon actors::thread
// this process started, and those they start meanwhile, but the calling one.
// The node runs it first when it stops (its node_hooks::join).
static void join_non_daemon_threads() noexcept {
  int me = ::getpid();
  long caller = current_tid();
  for (;;) { // a thread may start another while we wait: look again
    std::shared_ptr<thread_state> running;
    for (auto& t : started_threads.live()) {
      if (t->pid != me) // inherited by a fork child: that thread is not here
        continue;
      std::lock_guard<std::mutex> lock(t->mtx);
      if (!t->daemon && !t->finished && t->native_id != caller) {
        running = t;
        break;
      }
    }
    if (!running)
      return;
    std::unique_lock<std::mutex> lock(running->mtx);
    running->cv.wait(lock, [&running] { return running->finished; });
  }
}

} // namespace detail

thread::thread(std::function<void()> body) : state_(std::make_shared<detail::thread_state>()) {
  state_->body = std::move(body);
  state_->name = "Thread-" + std::to_string(detail::next_thread++);
}

thread::~thread() = default;

std::string thread::name() const {
  std::lock_guard<std::mutex> lock(state_->mtx);
  return state_->name;
}

thread& thread::name(std::string new_name) {
  std::lock_guard<std::mutex> lock(state_->mtx);
  state_->name = std::move(new_name);
  return *this;
}

bool thread::daemon() const {
  std::lock_guard<std::mutex> lock(state_->mtx);
  return state_->daemon;
}

thread& thread::daemon(bool value) {
  std::lock_guard<std::mutex> lock(state_->mtx);
  if (state_->started)
    throw error(errc::already_started, "thread::daemon: the thread was started already");
  state_->daemon = value;
  return *this;
}

void thread::start() {
  auto& sys = system(); // throws errc::no_node
  detail::start_control_endpoint(); // actors-top can watch the thread
  {
    std::lock_guard<std::mutex> lock(state_->mtx);
    if (state_->started)
      throw error(errc::already_started, "thread::start: threads can only be started once");
    state_->started = true;
    state_->pid = ::getpid();
  }
  {
    static bool registered = [] {
      detail::add_stats_source(&detail::thread_stats_of);
      detail::node_hooks hooks;
      hooks.join = &detail::join_non_daemon_threads;
      detail::add_node_hooks(hooks);
      return true;
    }();
    (void) registered;
    detail::started_threads.add(state_);
  }
  if (state_->daemon) {
    // Not awaited when the node stops; the node leaves its actor system
    // running (the process is ending) while a daemon thread still runs.
    detail::node_daemon_threads(+1);
    sys.spawn<detail::thread_actor, caf::hidden>(state_);
  } else {
    sys.spawn<detail::thread_actor>(state_);
  }
}

void thread::join() {
  (void) join(forever);
}

bool thread::join(duration timeout) {
  std::unique_lock<std::mutex> lock(state_->mtx);
  if (!state_->started)
    throw error(errc::not_started, "thread::join: the thread was not started");
  if (!state_->finished && state_->native_id == detail::current_tid())
    throw error(errc::join_self, "thread::join: a thread cannot join itself");
  auto done = [this] { return state_->finished; };
  if (timeout == forever) {
    state_->cv.wait(lock, done);
    return true;
  }
  return state_->cv.wait_for(lock, timeout, done);
}

bool thread::is_alive() const {
  std::lock_guard<std::mutex> lock(state_->mtx);
  return state_->started && !state_->finished;
}

long thread::native_id() const {
  std::lock_guard<std::mutex> lock(state_->mtx);
  return state_->native_id;
}

} // namespace actors
