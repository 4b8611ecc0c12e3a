// A pool's scheduling: its workers, dispatch, results and reaping
// (pool/supervisor.hpp). How the service loop drives it is in pool/loop.cpp.

#include <actors/detail/pool_core.hpp>
#include <actors/detail/queue_client.hpp>
#include <actors/detail/shm.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "io/service_loop.hpp"
#include "io/wire.hpp"
#include "pool/protocol.hpp"
#include "pool/supervisor.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <unordered_map>

namespace actors::detail {

using namespace pool_wire;

namespace {

class process_worker final : public worker_process {
public:
  explicit process_worker(process p) : p_(std::move(p)) {}
  int pid() const override { return p_.pid(); }
  bool exited_now() override { return p_.join(duration::zero()); }
  int sentinel() override { return p_.sentinel(); }
  void join_or_kill() override { detail::join_or_kill(p_); }
  void kill() override { p_.kill(); }
  void terminate() override { p_.terminate(); }
  std::optional<int> exitcode() override { return p_.exitcode(); }

private:
  process p_;
};

} // namespace

worker_starter process_workers(start_method method) {
  return [method](const worker_boot& boot, const std::string& name) {
    no_actor_hosting internal; // a worker runs tasks, not actors
    process p(pool_worker, boot);
    p.daemon(true);
    p.method(method);
    p.name(name);
    p.start();
    return std::unique_ptr<worker_process>(new process_worker(std::move(p)));
  };
}

pool_core::pool_core(pool_config c, worker_starter start)
    : cfg(std::move(c)), loop_(service_loop()),
      start_(start               ? std::move(start)
             : cfg.hosts.empty() ? process_workers(cfg.method)
                                 : host_workers(cfg.hosts, cfg.method)) {
  if (cfg.processes <= 0)
    cfg.processes = cpu_count();
  // One slot per worker: a retiring worker (maxtasksperchild) keeps its
  // place until it has exited, and only then is it replaced.
  auto n = static_cast<std::size_t>(cfg.processes);
  slots_ = std::make_shared<shm_segment>(n * sizeof(std::uint64_t));
  slot_used_.assign(n, false);
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
  w->proc = start_(boot, "PoolWorker-" + std::to_string(next_worker_++));
  theirs.reset();
  if (auto remote = w->proc->take_socket())
    mine = std::move(remote);
  int flags = ::fcntl(mine.get(), F_GETFL);
  ::fcntl(mine.get(), F_SETFL, flags | O_NONBLOCK);
  w->pid = w->proc->pid();
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

// A worker's socket reached EOF and it has exited (crashed or retired; see
// await_exit): settle the jobs it had.
void pool_core::reap(worker& w) {
  int code = w.proc->exitcode().value_or(0);
  {
    std::lock_guard<std::mutex> lock(mtx);
    ++restarts; // counted before the failures below are seen
  }
  auto* slot = reinterpret_cast<std::atomic<std::uint64_t>*>(slots_->data()) + w.slot;
  auto running = slot->exchange(0);
  if (running == 0 && w.proc->running_unknown() && !w.inflight.empty())
    running = w.inflight.front().id;
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

} // namespace actors::detail
