#pragma once
// The untyped side of actors::pool: jobs (a function, how to run it, and its
// encoded arguments) go to a supervisor on the node's service loop that owns
// the worker processes; results come back to job sinks. Internal; use
// <actors/pool.hpp>.

#include <actors/detail/target.hpp>
#include <actors/future.hpp>
#include <actors/process.hpp>
#include <actors/progress.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace actors::detail {

/// Runs one task in a worker: decodes `payload`, calls `fn`, returns the
/// encoded result. Exceptions propagate; the worker reports them.
using task_runner = std::string (*)(any_fn fn, const char* payload, std::size_t size);

/// Which step of a task failed in the worker, for remote_error's message.
enum class task_phase : std::uint8_t { decoding = 0, running = 1, encoding = 2 };

/// Set by runners so the worker can say where an exception came from.
task_phase& current_phase() noexcept;

// -- runners: one per call shape, instantiated in the caller's program ---------

template <class R, class... Ps>
std::string run_apply(any_fn fn, const char* payload, std::size_t size) {
  current_phase() = task_phase::decoding;
  auto args = decode<std::tuple<std::decay_t<Ps>...>>(payload, size);
  current_phase() = task_phase::running;
  auto f = reinterpret_cast<R (*)(Ps...)>(fn);
  if constexpr (std::is_void_v<R>) {
    std::apply([f](auto&... a) { f(pass_as<Ps>(a)...); }, args);
    current_phase() = task_phase::encoding;
    return encode(void_result{});
  } else {
    R r = std::apply([f](auto&... a) -> R { return f(pass_as<Ps>(a)...); }, args);
    current_phase() = task_phase::encoding;
    return encode(r);
  }
}

/// A map chunk: a vector of single arguments in, a vector of results out.
template <class R, class P>
std::string run_map(any_fn fn, const char* payload, std::size_t size) {
  current_phase() = task_phase::decoding;
  auto items = decode<std::vector<std::decay_t<P>>>(payload, size);
  current_phase() = task_phase::running;
  auto f = reinterpret_cast<R (*)(P)>(fn);
  std::vector<stored_t<R>> out;
  out.reserve(items.size());
  for (auto& item : items) {
    if constexpr (std::is_void_v<R>) {
      f(pass_as<P>(item));
      out.emplace_back();
    } else {
      out.push_back(f(pass_as<P>(item)));
    }
  }
  current_phase() = task_phase::encoding;
  return encode(out);
}

/// A starmap chunk: a vector of argument tuples in, a vector of results out.
template <class R, class... Ps>
std::string run_starmap(any_fn fn, const char* payload, std::size_t size) {
  current_phase() = task_phase::decoding;
  auto items = decode<std::vector<std::tuple<std::decay_t<Ps>...>>>(payload, size);
  current_phase() = task_phase::running;
  auto f = reinterpret_cast<R (*)(Ps...)>(fn);
  std::vector<stored_t<R>> out;
  out.reserve(items.size());
  for (auto& args : items) {
    if constexpr (std::is_void_v<R>) {
      std::apply([f](auto&... a) { f(pass_as<Ps>(a)...); }, args);
      out.emplace_back();
    } else {
      out.push_back(std::apply([f](auto&... a) -> R { return f(pass_as<Ps>(a)...); }, args));
    }
  }
  current_phase() = task_phase::encoding;
  return encode(out);
}

// -- jobs and the pool ---------------------------------------------------------

/// What a task is, for error messages: "apply_async #7", "map chunk 3 (items
/// 30..39)".
struct job_label {
  const char* kind = "task";
  std::uint64_t index = 0;
  std::uint64_t first = 0; // items first..first+count-1; count 0: a single task
  std::uint64_t count = 0;
  std::string text() const;
};

struct job {
  any_fn fn = nullptr;
  task_runner runner = nullptr;
  std::shared_ptr<const std::string> payload; // shared: a job may be sent again
  std::shared_ptr<job_sink> sink;
  std::size_t part = 0;
  job_label label;
  duration timeout = forever; // kills the worker that overruns it
  int retries = 0;            // runs left after a worker death
};


using progress_fn = std::function<void(const progress_info&)>;

/// Duplicates of borrowed descriptors, closed with the last copy.
struct owned_fds {
  explicit owned_fds(const std::vector<int>& borrowed);
  ~owned_fds();
  owned_fds(const owned_fds&) = delete;
  owned_fds& operator=(const owned_fds&) = delete;
  std::vector<int> fds;
};

struct pool_config {
  int processes = 0;
  start_method method = start_method::forkserver;
  std::int64_t maxtasksperchild = 0; // 0: never; negative: refused by start_pool
  int max_retries = 0;
  duration task_timeout = forever;
  std::optional<invocation> initializer; // its fds are those of initializer_fds
  std::shared_ptr<owned_fds> initializer_fds;
  bool on_demand = false; // workers start as tasks need them
  std::vector<std::string> hosts; // cluster hosts the workers spread over; empty: here
};

class pool_core;

/// Starts the workers and the supervisor. Throws errc::bad_argument,
/// errc::no_node, and what process::start() throws.
std::shared_ptr<pool_core> start_pool(pool_config config);

/// Hands jobs to the supervisor. Throws errc::closed after close() or
/// terminate().
void submit(pool_core& p, std::vector<job> jobs);

/// The number of worker processes the pool keeps.
int pool_size(const pool_core& p) noexcept;

/// The pool's defaults for jobs.
duration pool_task_timeout(const pool_core& p) noexcept;
int pool_max_retries(const pool_core& p) noexcept;

/// The pids of the live workers.
std::vector<int> pool_pids(pool_core& p);

/// Workers replaced so far (deaths, timeouts and maxtasksperchild).
std::uint64_t pool_restarts(pool_core& p);

/// No more jobs; workers exit when the queued ones are done.
void pool_close(pool_core& p);

/// Stops the workers now; unfinished jobs fail with errc::closed.
/// `cancel_pending` only: jobs not yet started are cancelled, running ones
/// go on (executor.shutdown(cancel_futures=True)).
/// `terminate_workers`: both, the executor's terminate_workers() (or with
/// `kill`, kill_workers(): SIGKILL instead of SIGTERM).
void pool_terminate(pool_core& p);
void pool_cancel_pending(pool_core& p);
void pool_terminate_workers(pool_core& p, bool kill);

/// Waits until the workers exited (after close or terminate); false on
/// timeout. Throws errc::bad_argument while the pool is open.
bool pool_join(pool_core& p, duration timeout);

/// Python's default chunk size for `n` items over `workers` processes.
std::size_t default_chunksize(std::size_t n, int workers) noexcept;

/// Draws a one-line progress bar on `fd` (a terminal: stderr by default).
progress_fn progress_bar_on(int fd);

} // namespace actors::detail
