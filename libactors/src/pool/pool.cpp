// The pool: a supervisor thread that owns the worker processes, and the
// workers' task loop.
//
// Supervisor. One thread per pool; all scheduling state is touched only by
// it (an actor in all but name, driven by a poll loop over an eventfd for
// new jobs and one socket per worker). It sends each worker a window of
// jobs (about 2 ms of work, from the measured task time), reads results in
// order, and completes the jobs' sinks.
//
// Worker death. Each worker writes the id of the task it is running into
// its slot of a shared-memory array. When a worker's socket reaches EOF the
// supervisor reads every result it sent, reaps it, and looks at its slot:
// that task is the one that died with it (it fails with worker_died, or is
// retried); every other job it had been sent goes back to the head of the
// queue. A replacement is started at once.
//
// Wire (frames, frame.hpp; first payload byte is the operation):
//   supervisor -> worker                    worker -> supervisor
//   def  u32 index, code_location           result u64 id, u64 ns, bytes
//   task u64 id, u32 runner, u32 fn, bytes  error  u64 id, u8 phase, (type, what)
//                                           init_failed (type, what)

#include <actors/detail/pool_core.hpp>
#include <actors/detail/queue_client.hpp>
#include <actors/detail/shm.hpp>
#include <actors/detail/stats.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "runtime/runtime.hpp"
#include "io/wire.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace actors::detail {

task_phase& current_phase() noexcept {
  thread_local task_phase phase = task_phase::running;
  return phase;
}

std::string job_label::text() const {
  if (count == 0)
    return std::string(kind) + " #" + std::to_string(index);
  return std::string(kind) + " chunk " + std::to_string(index) + " (items "
         + std::to_string(first) + ".." + std::to_string(first + count - 1) + ")";
}

owned_fds::owned_fds(const std::vector<int>& borrowed) {
  for (int fd : borrowed) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
      throw_errno("dup of an initializer argument's descriptor");
    fds.push_back(copy);
  }
}

owned_fds::~owned_fds() {
  for (int fd : fds)
    ::close(fd);
}

std::size_t default_chunksize(std::size_t n, int workers) noexcept {
  auto parts = static_cast<std::size_t>(std::max(1, workers)) * 4;
  return std::max<std::size_t>(1, n / parts + (n % parts ? 1 : 0));
}

namespace {

enum op : std::uint8_t {
  op_def = 1,
  op_task = 2,
  op_result = 3,
  op_error = 4,
  op_init_failed = 5,
};

using clock = std::chrono::steady_clock;

// A descriptor argument of the worker target.
struct fd_arg {
  int fd = -1;
  template <class Archive>
  void save(Archive& ar) const {
    ar(export_fd(fd));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint32_t index = 0;
    ar(index);
    fd = import_fd(index);
  }
};

} // namespace

/// What a worker process is started with.
struct worker_boot {
  fd_arg sock;
  std::shared_ptr<shm_segment> slots;
  std::uint32_t slot = 0;
  std::uint64_t maxtasks = 0;
  bool has_init = false;
  code_location init_trampoline, init_target;
  std::string init_payload;
  std::vector<fd_arg> init_fds;

  template <class Archive>
  void save(Archive& ar) const {
    ar(sock);
    save_segment(ar, slots);
    ar(slot, maxtasks, has_init, init_trampoline, init_target, init_payload, init_fds);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(sock);
    slots = load_segment<Archive>(ar);
    ar(slot, maxtasks, has_init, init_trampoline, init_target, init_payload, init_fds);
  }
};

namespace {

std::string encode_exception() {
  auto [type, message] = current_exception_info();
  return encode(std::make_pair(type, message));
}

std::string missing_code(const code_location& where) {
  char offset[32];
  std::snprintf(offset, sizeof offset, "%llx", static_cast<unsigned long long>(where.offset));
  return (where.module.empty() ? std::string("the program") : where.module) + " +0x" + offset
         + " is not loaded in the worker (a library dlopen'ed after the node started is not "
           "in forkserver or spawn workers; link it, or use start_method::fork)";
}

} // namespace

/// A worker process: runs the initializer, then tasks until its socket
/// closes or it reaches maxtasks.
void pool_worker(worker_boot boot) {
  ::signal(SIGINT, SIG_IGN); // Ctrl-C is the parent's to handle; it stops us
  unique_fd sock(boot.sock.fd);
  auto* slot = reinterpret_cast<std::atomic<std::uint64_t>*>(boot.slots->data()) + boot.slot;
  outbox out;
  if (boot.has_init) {
    auto trampoline = reinterpret_cast<trampoline_fn>(resolve(boot.init_trampoline));
    auto target = resolve(boot.init_target);
    try {
      if (!trampoline || !target)
        throw error(errc::target_not_found,
                    "the initializer cannot be found: "
                      + missing_code(trampoline ? boot.init_target : boot.init_trampoline));
      std::vector<int> fds;
      for (auto& f : boot.init_fds)
        fds.push_back(f.fd);
      trampoline(target, boot.init_payload, &fds);
    } catch (...) {
      out.frame(op_init_failed, {}, encode_exception());
      out.send(sock.get());
      throw system_exit(1);
    }
  }
  std::vector<any_fn> table; // code the supervisor defined, by index
  inbuf in;
  std::uint64_t done = 0;
  auto last_flush = clock::now();
  for (;;) {
    bool quit = false;
    bool ok = each_frame(in, [&](const char* p, std::size_t size) {
      const char* end = p + size;
      auto code = static_cast<op>(*p++);
      if (code == op_def && end - p >= 4) {
        auto index = take<std::uint32_t>(p);
        auto where = decode<code_location>(p, static_cast<std::size_t>(end - p));
        if (table.size() <= index)
          table.resize(index + 1);
        table[index] = resolve(where);
        if (!table[index])
          log::warning() << "pool worker: " << missing_code(where);
        return true;
      }
      if (code != op_task || end - p < 16)
        return false;
      auto id = take<std::uint64_t>(p);
      auto runner_index = take<std::uint32_t>(p);
      auto fn_index = take<std::uint32_t>(p);
      slot->store(id, std::memory_order_release);
      auto start = clock::now();
      std::string head;
      put(head, id);
      current_phase() = task_phase::decoding; // a missing function fails before decoding
      try {
        auto runner = runner_index < table.size()
                        ? reinterpret_cast<task_runner>(table[runner_index]) : nullptr;
        auto fn = fn_index < table.size() ? table[fn_index] : nullptr;
        if (!runner || !fn)
          throw error(errc::target_not_found,
                      "the task's function is not loaded in this worker (see the warning "
                      "above)");
        auto result = runner(fn, p, static_cast<std::size_t>(end - p));
        put(head, static_cast<std::uint64_t>((clock::now() - start).count()));
        out.frame(op_result, head, std::move(result));
      } catch (...) {
        head += static_cast<char>(current_phase());
        out.frame(op_error, head, encode_exception());
      }
      slot->store(0, std::memory_order_release);
      ++done;
      auto now = clock::now();
      if (out.bytes() > 256 * 1024 || now - last_flush > std::chrono::milliseconds(2)) {
        if (!out.send(sock.get()))
          throw system_exit(0); // the pool is gone
        last_flush = now;
      }
      if (boot.maxtasks > 0 && done >= boot.maxtasks) {
        quit = true;
        return false;
      }
      return true;
    });
    if (!out.empty()) { // about to wait for more work: send what is done
      if (!out.send(sock.get()))
        return;
      last_flush = clock::now();
    }
    if (quit)
      return;
    if (!ok) {
      log::error() << "pool worker: a malformed frame from the supervisor; exiting";
      throw system_exit(1);
    }
    if (!in.read_from(sock.get()))
      return; // the pool closed us: exit normally
  }
}

// -- the supervisor -------------------------------------------------------------

namespace {

struct sent_job {
  std::uint64_t id;
  job j;
};

struct worker {
  std::optional<process> proc;
  int pid = 0;
  unique_fd sock;
  std::uint32_t slot = 0;
  inbuf in;
  outbox out;
  std::deque<sent_job> inflight;
  std::size_t known_defs = 0;
  std::uint64_t sent = 0;
  bool exclusive = false; // runs a job with a timeout, alone
  clock::time_point deadline = clock::time_point::max();
  bool timed_out = false;
  bool eof = false;
};

} // namespace

class pool_core {
public:
  explicit pool_core(pool_config c);
  ~pool_core();

  // For actors-top.
  std::atomic<std::uint64_t> queued{0}, running{0}, done{0};

  // Shared with callers, under mtx.
  pool_config cfg;
  std::mutex mtx;
  std::condition_variable finished_cv;
  std::vector<job> inbox;
  bool closed = false, terminating = false, cancel_pending = false, finished = false;
  bool kill_workers = false; // terminating with SIGKILL rather than SIGTERM
  std::exception_ptr broken; // the initializer failed
  std::vector<int> pids;
  std::uint64_t restarts = 0;
  unique_fd wake;
  std::thread thread;

  void start_initial_workers();
  void run() noexcept;

private:
  // Supervisor-only state.
  std::deque<job> pending_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::shared_ptr<shm_segment> slots_;
  std::vector<bool> slot_used_;
  std::unordered_map<any_fn, std::uint32_t> fn_index_;
  std::vector<code_location> fn_table_;
  std::uint64_t next_id_ = 1;
  std::uint64_t next_worker_ = 1;
  double avg_ns_ = 0;

  void start_worker();
  std::uint32_t define(any_fn fn);
  void dispatch();
  void flush(worker& w);
  void read_from(worker& w);
  bool handle(worker& w, const char* p, std::size_t size);
  void reap(worker& w);
  void fail(job& j, std::exception_ptr e);
  void publish_pids();
  bool idle() const;
  std::size_t idle_workers() const; // running nothing and able to take a task
};

pool_core::pool_core(pool_config c) : cfg(std::move(c)) {
  if (cfg.processes <= 0)
    cfg.processes = cpu_count();
  wake.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake)
    throw_errno("eventfd (pool)");
  // One slot per worker: a retiring worker (maxtasksperchild) keeps its
  // place until it has exited, and only then is it replaced.
  auto n = static_cast<std::size_t>(cfg.processes);
  slots_ = std::make_shared<shm_segment>(n * sizeof(std::uint64_t));
  slot_used_.assign(n, false);
}

pool_core::~pool_core() {
  if (thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mtx);
      terminating = true;
    }
    std::uint64_t one = 1;
    (void) !::write(wake.get(), &one, sizeof one);
    thread.join();
  }
}

std::uint32_t pool_core::define(any_fn fn) {
  auto it = fn_index_.find(fn);
  if (it != fn_index_.end())
    return it->second;
  auto index = static_cast<std::uint32_t>(fn_table_.size());
  fn_table_.push_back(locate(fn));
  fn_index_.emplace(fn, index);
  return index;
}

void pool_core::start_initial_workers() {
  for (int i = 0; i < cfg.processes && !cfg.on_demand; ++i)
    start_worker();
  publish_pids();
}

void pool_core::start_worker() {
  auto w = std::make_unique<worker>();
  w->slot = static_cast<std::uint32_t>(
    std::find(slot_used_.begin(), slot_used_.end(), false) - slot_used_.begin());
  if (w->slot >= slot_used_.size())
    throw error(errc::system_error, "pool: no free worker slot (a bug)");
  auto [mine, theirs] = socket_pair(SOCK_STREAM);
  worker_boot boot;
  boot.sock.fd = theirs.get();
  boot.slots = slots_;
  boot.slot = w->slot;
  boot.maxtasks = static_cast<std::uint64_t>(cfg.maxtasksperchild);
  if (cfg.initializer) {
    boot.has_init = true;
    boot.init_trampoline = locate(reinterpret_cast<any_fn>(cfg.initializer->trampoline));
    boot.init_target = locate(cfg.initializer->target);
    boot.init_payload = cfg.initializer->payload;
    for (int fd : cfg.initializer->fds)
      boot.init_fds.push_back({fd});
  }
  no_actor_hosting internal; // a worker runs tasks, not actors
  process p(pool_worker, boot);
  p.daemon(true);
  p.method(cfg.method);
  p.name("PoolWorker-" + std::to_string(next_worker_++));
  p.start();
  theirs.reset();
  int flags = ::fcntl(mine.get(), F_GETFL);
  ::fcntl(mine.get(), F_SETFL, flags | O_NONBLOCK);
  w->pid = p.pid();
  w->proc.emplace(std::move(p));
  w->sock = std::move(mine);
  slot_used_[w->slot] = true;
  workers_.push_back(std::move(w));
}


void pool_core::publish_pids() {
  std::vector<int> live;
  for (auto& w : workers_)
    live.push_back(w->pid);
  std::lock_guard<std::mutex> lock(mtx);
  pids = std::move(live);
}

std::size_t pool_core::idle_workers() const {
  auto max_tasks = static_cast<std::uint64_t>(cfg.maxtasksperchild);
  return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [&](const auto& w) {
    return w->inflight.empty() && !w->eof && !(max_tasks > 0 && w->sent >= max_tasks);
  }));
}

bool pool_core::idle() const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [](const auto& w) { return w->inflight.empty(); });
}

void pool_core::fail(job& j, std::exception_ptr e) {
  j.sink->fail(j.part, std::move(e));
}

// Hands pending jobs out, one at a time to the worker with the fewest in
// flight, up to a window each, then sends them. Idle workers get work
// first, so a short job does not wait behind a long one while a worker idles.
void pool_core::dispatch() {
  // About 2 ms of work per worker, from the measured task time: enough to
  // hide the round trip for tiny tasks, little enough to balance long ones.
  std::size_t window = avg_ns_ <= 0 ? 2
                                    : static_cast<std::size_t>(std::clamp(2e6 / avg_ns_, 2.0, 64.0));
  auto max_tasks = static_cast<std::uint64_t>(cfg.maxtasksperchild);
  while (!pending_.empty()) {
    worker* best = nullptr;
    for (auto& w : workers_) {
      if (w->eof || w->exclusive || w->inflight.size() >= window
          || (max_tasks > 0 && w->sent >= max_tasks))
        continue;
      if (!best || w->inflight.size() < best->inflight.size())
        best = w.get();
    }
    if (!best)
      break;
    auto& j = pending_.front();
    bool timed = j.timeout != forever;
    if (timed && !best->inflight.empty())
      break; // a job with a timeout runs alone, so its clock starts when it does
    if (!j.sink->claim(j.part)) { // cancelled, or its map already failed
      pending_.pop_front();
      continue;
    }
    auto& w = *best;
    auto runner = define(reinterpret_cast<any_fn>(j.runner));
    auto fn = define(j.fn);
    for (; w.known_defs < fn_table_.size(); ++w.known_defs) {
      std::string head;
      put(head, static_cast<std::uint32_t>(w.known_defs));
      w.out.frame(op_def, head, encode(fn_table_[w.known_defs]));
    }
    std::string head;
    auto id = next_id_++;
    put(head, id);
    put(head, runner);
    put(head, fn);
    w.out.frame(op_task, head, j.payload);
    ++w.sent;
    if (timed) {
      w.exclusive = true;
      w.deadline = clock::now() + j.timeout;
    }
    w.inflight.push_back({id, std::move(j)});
    pending_.pop_front();
  }
  for (auto& w : workers_)
    if (!w->out.empty())
      flush(*w);
}

void pool_core::flush(worker& w) {
  w.out.send(w.sock.get()); // a peer that is gone: the read side sees EOF
}

void pool_core::read_from(worker& w) {
  while (!w.eof) {
    if (w.in.read_from(w.sock.get()))
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    w.eof = true;
  }
  bool ok = each_frame(w.in, [&](const char* p, std::size_t size) {
    return handle(w, p, size);
  });
  if (!ok) {
    log::error() << "pool: worker pid " << w.pid << " sent a malformed frame; replacing it";
    w.proc->kill();
    w.eof = true;
  }
}

bool pool_core::handle(worker& w, const char* p, std::size_t size) {
  const char* end = p + size;
  auto code = static_cast<op>(*p++);
  if (code == op_init_failed) {
    auto [type, message] = decode<std::pair<std::string, std::string>>(
      p, static_cast<std::size_t>(end - p));
    std::lock_guard<std::mutex> lock(mtx);
    if (!broken)
      broken = std::make_exception_ptr(
        remote_error(type, message, w.pid, "the pool's initializer"));
    return true;
  }
  if ((code != op_result && code != op_error) || end - p < 8 || w.inflight.empty())
    return false;
  auto id = take<std::uint64_t>(p);
  if (id != w.inflight.front().id)
    return false; // results come back in the order the jobs were sent
  ++done;
  auto j = std::move(w.inflight.front().j);
  w.inflight.pop_front();
  w.exclusive = false;
  w.deadline = clock::time_point::max();
  if (code == op_result) {
    if (end - p < 8)
      return false;
    auto ns = static_cast<double>(take<std::uint64_t>(p));
    avg_ns_ = avg_ns_ <= 0 ? ns : 0.9 * avg_ns_ + 0.1 * ns;
    try {
      j.sink->deliver(j.part, p, static_cast<std::size_t>(end - p));
    } catch (const error& e) {
      fail(j, std::make_exception_ptr(
                error(errc::bad_payload, j.label.text() + ": its result did not decode in the "
                                                          "caller: " + e.what())));
    } catch (...) {
      // Not a std::exception (a type's load() threw actors::system_exit, say):
      // still only this job's failure, never the end of the caller's program.
      auto [type, message] = current_exception_info();
      fail(j, std::make_exception_ptr(error(
                errc::bad_payload, j.label.text() + ": its result did not decode in the caller: "
                                     + type + (message.empty() ? "" : " (" + message + ")")
                                     + " was thrown while decoding it")));
    }
    return true;
  }
  if (end - p < 1)
    return false;
  auto phase = static_cast<task_phase>(*p++);
  std::pair<std::string, std::string> what;
  try {
    what = decode<std::pair<std::string, std::string>>(p, static_cast<std::size_t>(end - p));
  } catch (const error&) {
    return false;
  }
  const char* where = phase == task_phase::decoding ? "while decoding its arguments: "
                      : phase == task_phase::encoding ? "while encoding its result: "
                                                      : "";
  fail(j, std::make_exception_ptr(
            remote_error(what.first, where + what.second, w.pid, j.label.text())));
  return true;
}

// A worker's socket reached EOF: it exited, crashed or retired. Reap it and
// settle the jobs it had.
void pool_core::reap(worker& w) {
  if (!w.proc->join(std::chrono::seconds(1))) {
    w.proc->kill();
    w.proc->join();
  }
  int code = w.proc->exitcode().value_or(0);
  {
    std::lock_guard<std::mutex> lock(mtx);
    ++restarts; // counted before the failures below are seen
  }
  auto* slot = reinterpret_cast<std::atomic<std::uint64_t>*>(slots_->data()) + w.slot;
  auto running = slot->exchange(0);
  slot_used_[w.slot] = false;
  std::deque<job> back; // not started: they go back to the head of the queue
  for (auto& s : w.inflight) {
    if (s.id != running && !w.timed_out) {
      back.push_back(std::move(s.j));
      continue;
    }
    auto& j = s.j;
    if (w.timed_out) {
      fail(j, std::make_exception_ptr(timeout_error(
                j.label.text() + " ran over its timeout; worker pid " + std::to_string(w.pid)
                + " was killed and replaced")));
    } else if (j.retries > 0) {
      --j.retries;
      log::warning() << "pool: worker pid " << w.pid << " died running " << j.label.text()
                     << "; running it again";
      back.push_back(std::move(j));
    } else {
      fail(j, std::make_exception_ptr(
                worker_died(w.pid, code < 0 ? -code : 0, code < 0 ? 0 : code, j.label.text())));
    }
  }
  w.inflight.clear();
  for (auto it = back.rbegin(); it != back.rend(); ++it)
    pending_.push_front(std::move(*it));
}

void pool_core::run() noexcept {
  on_pool_supervisor() = true;
  std::vector<pollfd> fds;
  for (;;) {
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
    // Workers that reached EOF are reaped; their unfinished jobs go back
    // to the queue (and are failed below if the pool is broken).
    bool changed = false;
    for (std::size_t i = 0; i < workers_.size();) {
      if (workers_[i]->eof) {
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
    if (is_terminating)
      break;

    // A worker that retires (maxtasksperchild) holds its place until it
    // has exited and been reaped above: the pool never runs more than
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
      for (auto& w : workers_)
        w->sock.reset(); // EOF: the worker exits normally
      break;
    }

    // Wait for results, new jobs, or a deadline.
    fds.clear();
    fds.push_back({wake.get(), POLLIN, 0});
    auto next_deadline = clock::time_point::max();
    for (auto& w : workers_) {
      short events = POLLIN;
      if (!w->out.empty())
        events |= POLLOUT;
      fds.push_back({w->sock.get(), events, 0});
      next_deadline = std::min(next_deadline, w->deadline);
    }
    int timeout_ms = -1;
    if (next_deadline != clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - clock::now());
      timeout_ms = static_cast<int>(std::max<long>(0, left.count()));
    }
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      log::error() << "pool: poll failed: " << std::strerror(errno);
      break;
    }
    if (fds[0].revents) {
      std::uint64_t count;
      (void) !::read(wake.get(), &count, sizeof count);
    }
    auto now = clock::now();
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      auto& w = *workers_[i];
      auto revents = fds[i + 1].revents;
      if (revents & POLLOUT)
        flush(w);
      if (revents & (POLLIN | POLLHUP | POLLERR))
        read_from(w);
      if (!w.eof && w.deadline <= now) {
        w.timed_out = true;
        w.proc->kill();
        // The socket reaches EOF once the worker is gone.
      }
    }
  }

  // Closed and drained, or terminated: stop every worker, fail what is left.
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
  auto closed_error = [](const job& j) {
    return std::make_exception_ptr(error(
      errc::closed, "the pool was terminated before " + j.label.text() + " finished"));
  };
  for (auto& w : workers_) {
    if (!w->proc->join(std::chrono::seconds(1))) {
      w->proc->kill();
      w->proc->join();
    }
    for (auto& s : w->inflight)
      fail(s.j, closed_error(s.j));
  }
  for (auto& j : pending_)
    fail(j, closed_error(j));
  pending_.clear();
  workers_.clear();
  std::vector<job> late;
  {
    std::lock_guard<std::mutex> lock(mtx);
    late.swap(inbox);
    pids.clear();
    finished = true;
  }
  for (auto& j : late)
    fail(j, closed_error(j));
  finished_cv.notify_all();
}

// -- the pool's public side ------------------------------------------------------

namespace {
weak_registry<pool_core> pools;

void pool_stats_of(node_stats& s) {
  pools.each([&s](pool_core& p, bool) {
    pool_stats ps;
    ps.size = p.cfg.processes;
    {
      std::lock_guard<std::mutex> l(p.mtx);
      ps.workers = p.pids;
      ps.restarts = p.restarts;
      ps.queued = p.inbox.size();
    }
    ps.queued += p.queued.load();
    ps.running = p.running.load();
    ps.done = p.done.load();
    s.pools.push_back(std::move(ps));
  });
}
} // namespace

std::shared_ptr<pool_core> start_pool(pool_config config) {
  if (config.processes < 0)
    throw error(errc::bad_argument,
                "pool: the number of worker processes (processes, max_workers) must be at "
                "least 1, or 0 for cpu_count(); got " + std::to_string(config.processes));
  if (config.maxtasksperchild < 0)
    throw error(errc::bad_argument,
                "pool: maxtasksperchild must be at least 1, or 0 to keep workers for the "
                "pool's life; got " + std::to_string(config.maxtasksperchild));
  if (config.max_retries < 0)
    throw error(errc::bad_argument, "pool: max_retries must not be negative");
  require_node().ensure_forkserver();
  catch_sigint();
  auto core = std::make_shared<pool_core>(std::move(config));
  start_control_endpoint(); // actors-top can watch the pool
  core->start_initial_workers();
  core->thread = std::thread([p = core.get()] { p->run(); });
  static bool registered = (add_stats_source(&pool_stats_of), true);
  (void) registered;
  pools.add(core);
  return core;
}

void submit(pool_core& p, std::vector<job> jobs) {
  std::exception_ptr broken;
  {
    std::lock_guard<std::mutex> lock(p.mtx);
    if (p.closed || p.terminating || p.finished)
      throw error(errc::closed, "the pool is closed: no new tasks after close() or terminate()");
    broken = p.broken;
    if (!broken) {
      bool was_empty = p.inbox.empty();
      for (auto& j : jobs)
        p.inbox.push_back(std::move(j));
      if (!was_empty)
        return; // a wake-up is on its way already
    }
  }
  if (broken) {
    for (auto& j : jobs)
      j.sink->fail(j.part, broken);
    return;
  }
  std::uint64_t one = 1;
  (void) !::write(p.wake.get(), &one, sizeof one);
}

int pool_size(const pool_core& p) noexcept {
  return p.cfg.processes;
}

duration pool_task_timeout(const pool_core& p) noexcept {
  return p.cfg.task_timeout;
}

int pool_max_retries(const pool_core& p) noexcept {
  return p.cfg.max_retries;
}

std::vector<int> pool_pids(pool_core& p) {
  std::lock_guard<std::mutex> lock(p.mtx);
  return p.pids;
}

std::uint64_t pool_restarts(pool_core& p) {
  std::lock_guard<std::mutex> lock(p.mtx);
  return p.restarts;
}

namespace {
void set_flag(pool_core& p, bool pool_core::*flag) {
  {
    std::lock_guard<std::mutex> lock(p.mtx);
    p.*flag = true;
  }
  std::uint64_t one = 1;
  (void) !::write(p.wake.get(), &one, sizeof one);
}
} // namespace

void pool_close(pool_core& p) {
  set_flag(p, &pool_core::closed);
}

void pool_cancel_pending(pool_core& p) {
  std::vector<job> keep;
  {
    std::lock_guard<std::mutex> lock(p.mtx);
    for (auto& j : p.inbox)
      if (!j.sink->cancel())
        keep.push_back(std::move(j));
    p.inbox = std::move(keep);
  }
  set_flag(p, &pool_core::cancel_pending);
}

namespace {
// join() and terminate() wait for the supervisor: not from its own thread.
void refuse_on_supervisor(const pool_core& p, const char* call) {
  if (std::this_thread::get_id() == p.thread.get_id())
    throw error(errc::bad_argument, std::string("pool::") + call
                                      + " from one of the pool's own callbacks would deadlock "
                                        "(they run on its supervisor thread)");
}
} // namespace

void pool_terminate(pool_core& p) {
  refuse_on_supervisor(p, "terminate");
  set_flag(p, &pool_core::terminating);
  pool_join(p, forever);
}

void pool_terminate_workers(pool_core& p, bool kill) {
  refuse_on_supervisor(p, kill ? "kill_workers" : "terminate_workers");
  pool_cancel_pending(p); // before terminating: the supervisor cancels first
  if (kill) {
    std::lock_guard<std::mutex> lock(p.mtx);
    p.kill_workers = true;
  }
  set_flag(p, &pool_core::terminating);
  pool_join(p, forever);
}

bool pool_join(pool_core& p, duration timeout) {
  refuse_on_supervisor(p, "join");
  std::unique_lock<std::mutex> lock(p.mtx);
  if (!p.closed && !p.terminating)
    throw error(errc::bad_argument, "pool::join: call close() or terminate() first");
  if (!p.finished_cv.wait_until(lock, deadline_in(timeout), [&] { return p.finished; }))
    return false;
  lock.unlock();
  if (p.thread.joinable() && p.thread.get_id() != std::this_thread::get_id())
    p.thread.join();
  return true;
}

// -- progress bar -----------------------------------------------------------------

namespace {
std::string human(double v) {
  char b[32];
  if (v >= 1e6)
    std::snprintf(b, sizeof b, "%.1fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(b, sizeof b, "%.1fk", v / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}
} // namespace

progress_fn progress_bar_on(int fd) {
  return [fd](const progress_info& p) {
    std::string line = "\r";
    if (p.total > 0) {
      constexpr int width = 30;
      auto filled = static_cast<int>(width * static_cast<double>(p.done) / static_cast<double>(p.total));
      line += "[" + std::string(static_cast<std::size_t>(filled), '#')
              + std::string(static_cast<std::size_t>(width - filled), ' ') + "] ";
      line += std::to_string(p.done) + "/" + std::to_string(p.total);
    } else {
      line += std::to_string(p.done) + " done";
    }
    line += "  " + human(p.rate) + "/s";
    if (p.eta >= 0 && p.done < p.total)
      line += "  ETA " + human(p.eta) + "s";
    line += p.total > 0 && p.done >= p.total ? "\n" : "   ";
    write_all(fd, line.data(), line.size());
  };
}

} // namespace actors::detail
