// The pool's supervisor (pool/supervisor.hpp) without processes: its workers
// are fakes, each a thread at the far end of the worker's socket pair that
// speaks the pool's wire (pool/protocol.hpp) as a worker would, or as a
// crashing, hanging or broken one would. Each test scripts what its workers
// do with a task and checks what the supervisor makes of it: results,
// worker_died, retries, timeouts, replacements and the pool's end.

#include "test_util.hpp"

#include <actors/detail/job_sink.hpp>
#include <actors/errors.hpp>

#include "io/wire.hpp"
#include "pool/protocol.hpp"
#include "pool/supervisor.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <map>
#include <mutex>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using namespace actors::detail;
using namespace actors::detail::pool_wire;
using test_util::eventually;

// What a fake worker does with a task: answer it (echoing its payload), die
// while running it (its socket closes, its exit is a SIGKILL), hang (never
// answer: only a kill ends it), or answer with a malformed frame.
enum class act { answer, die, hang, garble };

struct script {
  std::mutex mtx;
  std::function<act(const std::string& payload)> decide = [](const std::string&) {
    return act::answer;
  };
  std::atomic<int> started{0}, kills{0}, terms{0};
  bool exit_on_eof = true; // false: a worker that ignores the end of its socket

  // What every worker does with each task from now on.
  void on_task(std::function<act(const std::string& payload)> fn) {
    std::lock_guard<std::mutex> lock(mtx);
    decide = std::move(fn);
  }
};

class fake_worker final : public worker_process {
public:
  fake_worker(const worker_boot& boot, std::shared_ptr<script> s, int pid)
      : s_(std::move(s)), pid_(pid), sock_(::dup(boot.sock.fd)), exit_fd_(::eventfd(0, EFD_CLOEXEC)),
        slot_(reinterpret_cast<std::atomic<std::uint64_t>*>(boot.slots->data()) + boot.slot),
        maxtasks_(boot.maxtasks) {
    thread_ = std::thread([this] { run(); });
  }
  ~fake_worker() override {
    if (!exited_now())
      end_by(-SIGKILL);
    thread_.join();
    ::close(sock_);
    ::close(exit_fd_);
  }
  int pid() const override { return pid_; }
  bool exited_now() override { return code_.load() != running; }
  int sentinel() override { return exit_fd_; }
  void join_or_kill() override {
    for (int i = 0; i < 100 && !exited_now(); ++i)
      std::this_thread::sleep_for(10ms);
    if (!exited_now())
      kill();
    while (!exited_now())
      std::this_thread::sleep_for(1ms);
  }
  void kill() override {
    ++s_->kills;
    end_by(-SIGKILL);
  }
  void terminate() override {
    ++s_->terms;
    end_by(-SIGTERM);
  }
  std::optional<int> exitcode() override {
    int c = code_.load();
    return c == running ? std::nullopt : std::optional<int>(c);
  }

private:
  static constexpr int running = 1000;

  // A signal: the thread stops at once, and the socket is closed as the
  // kernel would close a dead process's.
  void end_by(int code) {
    killed_ = code;
    ::shutdown(sock_, SHUT_RDWR);
  }

  void exit_with(int code) {
    ::shutdown(sock_, SHUT_RDWR);
    int expected = running;
    code_.compare_exchange_strong(expected, code);
    std::uint64_t one = 1;
    (void) !::write(exit_fd_, &one, sizeof one);
  }

  void run() {
    inbuf in;
    outbox out;
    std::uint64_t done = 0;
    for (;;) {
      act last = act::answer;
      bool ok = each_frame(in, [&](const char* p, std::size_t size) {
        const char* end = p + size;
        auto code = static_cast<op>(*p++);
        if (code == op_def)
          return true;
        if (code != op_task || end - p < 16)
          return false;
        auto id = take<std::uint64_t>(p);
        (void) take<std::uint32_t>(p);
        (void) take<std::uint32_t>(p);
        std::string payload(p, end);
        slot_->store(id);
        std::lock_guard<std::mutex> lock(s_->mtx);
        last = s_->decide(payload);
        if (last != act::answer)
          return false;
        std::string head;
        put(head, id);
        put(head, std::uint64_t{1000});
        out.frame(op_result, head, payload);
        slot_->store(0);
        return !(maxtasks_ > 0 && ++done >= maxtasks_);
      });
      bool retire = maxtasks_ > 0 && done >= maxtasks_;
      if (last == act::garble)
        out.frame(op_result, std::string(3, 'x'), std::string());
      if (!out.empty())
        out.send(sock_);
      if (last == act::die)
        return exit_with(-SIGKILL);
      if (retire)
        return exit_with(0);
      if (!ok && last == act::answer)
        return exit_with(1); // a malformed frame from the supervisor
      if (last == act::hang || last == act::garble) {
        while (killed_.load() == 0)
          std::this_thread::sleep_for(1ms);
        return exit_with(killed_.load());
      }
      if (!in.read_from(sock_)) {
        if (killed_.load() != 0)
          return exit_with(killed_.load());
        if (!s_->exit_on_eof)
          while (killed_.load() == 0)
            std::this_thread::sleep_for(1ms);
        return exit_with(killed_.load() != 0 ? killed_.load() : 0);
      }
    }
  }

  std::shared_ptr<script> s_;
  int pid_;
  int sock_;
  int exit_fd_;
  std::atomic<std::uint64_t>* slot_;
  std::uint64_t maxtasks_; // as a real worker, it exits after these (maxtasksperchild)
  std::atomic<int> code_{running};
  std::atomic<int> killed_{0};
  std::thread thread_;
};

// Collects what the supervisor makes of each job.
struct outcome {
  std::optional<std::string> result;
  std::exception_ptr error;
};

class recording_sink final : public job_sink {
public:
  bool claim(std::size_t) override { return true; }
  void deliver(std::size_t part, const char* data, std::size_t size) override {
    std::lock_guard<std::mutex> lock(mtx_);
    EXPECT_FALSE(got_.count(part)) << "part " << part << " settled twice";
    got_[part].result.emplace(data, size);
    cv_.notify_all();
  }
  void fail(std::size_t part, std::exception_ptr e) override {
    std::lock_guard<std::mutex> lock(mtx_);
    EXPECT_FALSE(got_.count(part)) << "part " << part << " settled twice";
    got_[part].error = e;
    cv_.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds limit = 10s) {
    std::unique_lock<std::mutex> lock(mtx_);
    return cv_.wait_for(lock, limit, [&] { return got_.size() >= n; });
  }
  outcome at(std::size_t part) {
    std::lock_guard<std::mutex> lock(mtx_);
    return got_.at(part);
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::size_t, outcome> got_;
};

std::string identity(any_fn, const char* p, std::size_t n) {
  return std::string(p, n);
}
void nothing() {}

struct fixture {
  std::shared_ptr<script> s = std::make_shared<script>();
  std::shared_ptr<recording_sink> sink = std::make_shared<recording_sink>();
  std::shared_ptr<pool_core> pool;

  explicit fixture(int workers, int maxtasks = 0) {
    pool_config c;
    c.processes = workers;
    c.maxtasksperchild = maxtasks;
    auto sc = s;
    auto next_pid = std::make_shared<std::atomic<int>>(4000000);
    pool = std::make_shared<pool_core>(c, [sc, next_pid](const worker_boot& b, const std::string&) {
      ++sc->started;
      return std::unique_ptr<worker_process>(new fake_worker(b, sc, (*next_pid)++));
    });
    pool->start_initial_workers();
    pool->attach();
  }
  ~fixture() {
    pool_terminate(*pool);
    EXPECT_TRUE(pool_join(*pool, 10s));
  }

  void submit_jobs(std::size_t n, int retries = 0, actors::duration timeout = actors::forever) {
    std::vector<job> jobs;
    for (std::size_t i = 0; i < n; ++i) {
      job j;
      j.fn = reinterpret_cast<any_fn>(&nothing);
      j.runner = &identity;
      j.payload = std::make_shared<const std::string>("item " + std::to_string(i));
      j.sink = sink;
      j.part = i;
      j.label.index = i;
      j.retries = retries;
      j.timeout = timeout;
      jobs.push_back(std::move(j));
    }
    submit(*pool, std::move(jobs));
  }
};

template <class E>
bool failed_with(const outcome& o) {
  if (!o.error)
    return false;
  try {
    std::rethrow_exception(o.error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

} // namespace

TEST(pool_supervisor, every_result_comes_back_once_in_its_place) {
  fixture f(2);
  f.submit_jobs(500);
  ASSERT_TRUE(f.sink->wait_for(500));
  for (std::size_t i = 0; i < 500; ++i)
    EXPECT_EQ(f.sink->at(i).result.value_or("(failed)"), "item " + std::to_string(i));
  EXPECT_EQ(f.s->started.load(), 2);
  EXPECT_EQ(pool_restarts(*f.pool), 0u);
}

TEST(pool_supervisor, the_task_a_worker_died_running_fails_and_the_rest_go_to_its_replacement) {
  fixture f(1);
  f.s->on_task([](const std::string& p) {
    return p == "item 3" ? act::die : act::answer;
  });
  f.submit_jobs(40);
  ASSERT_TRUE(f.sink->wait_for(40));
  auto dead = f.sink->at(3);
  ASSERT_TRUE(failed_with<actors::worker_died>(dead));
  try {
    std::rethrow_exception(dead.error);
  } catch (const actors::worker_died& e) {
    EXPECT_EQ(e.signal(), SIGKILL) << e.what();
  }
  for (std::size_t i = 0; i < 40; ++i) {
    if (i != 3) {
      EXPECT_EQ(f.sink->at(i).result.value_or("(failed)"), "item " + std::to_string(i));
    }
  }
  EXPECT_EQ(f.s->started.load(), 2); // one replacement
  EXPECT_EQ(pool_restarts(*f.pool), 1u);
}

TEST(pool_supervisor, a_task_with_retries_runs_again_after_its_worker_died) {
  std::atomic<int> deaths{0};
  fixture f(2);
  f.s->on_task([&](const std::string& p) {
    return p == "item 5" && deaths++ < 2 ? act::die : act::answer; // dies twice
  });
  f.submit_jobs(10, 2);
  ASSERT_TRUE(f.sink->wait_for(10));
  for (std::size_t i = 0; i < 10; ++i)
    EXPECT_EQ(f.sink->at(i).result.value_or("(failed)"), "item " + std::to_string(i));
  EXPECT_EQ(deaths.load(), 3);
  EXPECT_EQ(pool_restarts(*f.pool), 2u);
}

TEST(pool_supervisor, a_task_over_its_timeout_gets_its_worker_killed_and_fails) {
  fixture f(1);
  f.s->on_task([](const std::string& p) {
    return p == "item 1" ? act::hang : act::answer;
  });
  f.submit_jobs(3, 0, 100ms);
  ASSERT_TRUE(f.sink->wait_for(3));
  EXPECT_TRUE(f.sink->at(0).result);
  EXPECT_TRUE(failed_with<actors::timeout_error>(f.sink->at(1)));
  EXPECT_TRUE(f.sink->at(2).result); // on the replacement
  EXPECT_EQ(f.s->kills.load(), 1);
  EXPECT_EQ(f.s->started.load(), 2);
}

TEST(pool_supervisor, a_worker_that_sends_a_malformed_frame_is_killed_and_replaced) {
  fixture f(1);
  f.s->on_task([](const std::string& p) {
    return p == "item 0" ? act::garble : act::answer;
  });
  f.submit_jobs(4);
  ASSERT_TRUE(f.sink->wait_for(4));
  // The task it was running dies with it; nothing else is lost.
  EXPECT_TRUE(failed_with<actors::worker_died>(f.sink->at(0)));
  for (std::size_t i = 1; i < 4; ++i)
    EXPECT_EQ(f.sink->at(i).result.value_or("(failed)"), "item " + std::to_string(i));
  EXPECT_GE(f.s->kills.load(), 1);
  EXPECT_EQ(f.s->started.load(), 2);
}

TEST(pool_supervisor, maxtasksperchild_retires_each_worker_after_its_tasks) {
  fixture f(1, 3);
  f.submit_jobs(9);
  ASSERT_TRUE(f.sink->wait_for(9));
  for (std::size_t i = 0; i < 9; ++i)
    EXPECT_EQ(f.sink->at(i).result.value_or("(failed)"), "item " + std::to_string(i));
  // Each worker retired after its three tasks (the supervisor sent it no
  // more) and was replaced; none was killed.
  EXPECT_TRUE(eventually([&] { return f.s->started.load() >= 3; }));
  EXPECT_LE(f.s->started.load(), 4);
  EXPECT_EQ(f.s->kills.load(), 0);
}

TEST(pool_supervisor, close_ends_idle_workers_by_eof_and_join_returns) {
  fixture f(2);
  f.submit_jobs(20);
  ASSERT_TRUE(f.sink->wait_for(20));
  pool_close(*f.pool);
  EXPECT_TRUE(pool_join(*f.pool, 5s));
  EXPECT_EQ(f.s->kills.load(), 0);
  EXPECT_EQ(f.s->terms.load(), 0);
  EXPECT_TRUE(pool_pids(*f.pool).empty());
}

TEST(pool_supervisor, a_worker_that_ignores_eof_is_killed_after_the_grace_period) {
  fixture f(1);
  f.s->exit_on_eof = false;
  f.submit_jobs(2);
  ASSERT_TRUE(f.sink->wait_for(2));
  pool_close(*f.pool);
  EXPECT_TRUE(pool_join(*f.pool, 10s));
  EXPECT_EQ(f.s->kills.load(), 1);
}

TEST(pool_supervisor, terminate_fails_running_and_queued_tasks_with_closed) {
  fixture f(1);
  f.s->on_task([](const std::string&) { return act::hang; });
  f.submit_jobs(5);
  ASSERT_TRUE(eventually([&] { return f.s->started.load() == 1; }));
  std::this_thread::sleep_for(50ms); // the first task reaches the worker
  pool_terminate(*f.pool);
  ASSERT_TRUE(pool_join(*f.pool, 5s));
  ASSERT_TRUE(f.sink->wait_for(5));
  for (std::size_t i = 0; i < 5; ++i) {
    auto o = f.sink->at(i);
    ASSERT_TRUE(o.error) << i;
    try {
      std::rethrow_exception(o.error);
    } catch (const actors::error& e) {
      EXPECT_EQ(e.value(), actors::errc::closed) << i << ": " << e.what();
    }
  }
  EXPECT_EQ(f.s->terms.load(), 1);
}
