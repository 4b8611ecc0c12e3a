// Spare processes: children started ahead of need, each already running its
// node and actor runtime, waiting for one order: "build this actor". Starting
// a process and its runtime costs milliseconds (a fork, a fork server of its
// own, CAF's threads); taking a spare costs one message. spawn(in_new_process)
// and supervisor restarts take one when it is ready; a maker thread, which
// lives only while it has spares to make, replaces it.

#include "base/thread_name.hpp"
#include "runtime/runtime.hpp"

#include <actors/detail/channel.hpp>

#include <actors/actor.hpp>
#include <actors/log.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace actors::detail {

namespace {

/// Descriptors that travel beside the encoded arguments (pipe ends...): as
/// descriptors of the order's message, owned by the side that decoded them.
struct passed_fds {
  std::vector<int> fds;

  template <class Archive>
  void save(Archive& ar) const {
    std::vector<std::uint32_t> index;
    for (int fd : fds)
      index.push_back(export_fd(fd));
    ar(index);
  }
  template <class Archive>
  void load(Archive& ar) {
    std::vector<std::uint32_t> index;
    ar(index);
    for (auto i : index)
      fds.push_back(import_fd(i));
  }
};

/// What a spare is told to become: the actor, and the settings of its
/// parent at that moment (they may have changed since the spare started).
struct spare_order {
  code_location host; // a host_encoded<T, D...>
  cell_identity who;
  std::string args;
  passed_fds fds;
  inherited_settings settings; // the parent's now, not when the spare started

  template <class Archive>
  void serialize(Archive& ar) {
    ar(host, who, args, fds, settings);
  }
};

/// A spare's whole life: boot the runtime, greet, wait for one order, host
/// the actor it names (never returns then). The end of `orders` without an
/// order means the node needs it no more.
void serve_spare(connection<spare_order> orders, connection<actor_address> report) {
  prepare_actor_runtime();
  actor_address hello;
  hello.pid = self_pid();
  report.send(hello);
  std::optional<spare_order> o;
  try {
    o = orders.recv();
  } catch (const eof_error&) {
    return;
  }
  orders.close();
  o->settings.apply();
  if (auto* n = current_node(); n && n->self) {
    std::lock_guard<std::mutex> lock(n->self->mtx);
    n->self->name = o->who.name;
  }
  auto host = reinterpret_cast<spare_host_fn>(resolve(o->host));
  if (!host) {
    try {
      throw error(errc::target_not_found, "a spare process cannot find the code of the actor "
                                            + o->who.name + " (a library loaded after it started?)");
    } catch (...) {
      report_construction_failure(report);
    }
    throw system_exit(1);
  }
  struct close_unused {
    std::vector<int>& fds;
    ~close_unused() { close_fds(fds); } // those the arguments did not take
  } unused{o->fds.fds};
  host(std::move(report), std::move(o->who), o->args, &o->fds.fds);
}

struct spare {
  process proc;
  start_method method;
  connection<spare_order> orders;
  connection<actor_address> report;
};

struct spare_pool {
  std::mutex mtx;
  std::deque<spare> ready;
  int wanted = 1;                    // set_spare_processes
  std::optional<start_method> method; // what spares are made with (the last asked)
  bool making = false;               // the maker thread runs
  bool stopping = false;             // the node stops: make no more
  bool failed = false;               // a spare failed to start: make no more
  std::thread maker;
};

spare_pool*& pool_ptr() {
  static auto* p = new spare_pool;
  return p;
}

// Starts a spare and waits for its greeting (its runtime runs then).
std::optional<spare> make_spare(start_method m) {
  auto [their_orders, orders] = pipe<spare_order>(false); // (reader, writer)
  auto [report, their_report] = pipe<actor_address>(false);
  process p(&serve_spare, their_orders, their_report);
  p.daemon(true);
  p.name("actors-spare");
  p.method(m);
  process_access::state(p).spare = true;
  p.start();
  their_orders.close();
  their_report.close();
  try {
    if (report.try_recv(std::chrono::seconds(30)))
      return spare{std::move(p), m, std::move(orders), std::move(report)};
  } catch (const eof_error&) {
  }
  join_or_kill(p);
  log::warning() << "a spare process (pid " << p.pid() << ") did not start its actor runtime"
                 << " (exit code " << p.exitcode().value_or(-1)
                 << "); spawn(in_new_process) starts each process itself from now on";
  return std::nullopt;
}

void make_spares(spare_pool* pool) {
  std::unique_lock<std::mutex> lock(pool->mtx);
  while (!pool->stopping && !pool->failed && pool->method
         && static_cast<int>(pool->ready.size()) < pool->wanted) {
    auto m = *pool->method;
    lock.unlock();
    std::optional<spare> s;
    try {
      s = make_spare(m); // this thread never runs under no_actor_hosting

    } catch (const std::exception& e) {
      log::warning() << "cannot start a spare process: " << e.what();
    }
    lock.lock();
    if (!s)
      pool->failed = true;
    else if (pool->stopping || pool->method != s->method)
      s.reset(); // closes its orders: it exits by itself
    else
      pool->ready.push_back(std::move(*s));
  }
  pool->making = false;
}

// Starts the maker thread unless it runs. Call with the pool's lock held.
void refill(spare_pool* pool) {
  if (pool->making || pool->stopping || pool->failed || pool->wanted == 0)
    return;
  if (pool->maker.joinable())
    pool->maker.join(); // it has finished: making was false
  pool->making = true;
  pool->maker = std::thread([pool] {
    name_this_thread("actors.spares");
    make_spares(pool);
  });
}

} // namespace

std::shared_ptr<actor_ref> spawn_in_spare(const std::optional<start_method>& method, any_fn host,
                                          const cell_identity& who, const std::string& args,
                                          const std::vector<int>& fds, const char* type) {
  auto m = method.value_or(get_start_method());
  if (m == start_method::fork)
    return nullptr;
  auto* pool = pool_ptr();
  std::optional<spare> s;
  {
    std::lock_guard<std::mutex> lock(pool->mtx);
    if (pool->method != m) {
      pool->method = m;
      pool->ready.clear(); // made for another method: they exit by themselves
    }
    if (!pool->ready.empty()) {
      s = std::move(pool->ready.front());
      pool->ready.pop_front();
    } else {
      refill(pool); // for the next spawn: this one starts a process itself
    }
  }
  if (!s)
    return nullptr;
  // The next spare is started once this one has reported: its fork and
  // boot would otherwise compete for the cores with the actor's start.
  struct refill_after {
    spare_pool* pool;
    ~refill_after() {
      std::lock_guard<std::mutex> lock(pool->mtx);
      refill(pool);
    }
  } later{pool};
  spare_order o;
  o.host = locate(host);
  o.who = who;
  o.args = args;
  o.fds.fds = fds;
  o.settings = inherited_settings::current();
  {
    auto& st = process_access::state(s->proc);
    std::lock_guard<std::mutex> lock(st.mtx);
    st.name = who.name;
    st.spare = false;
  }
  try {
    s->orders.send(o);
  } catch (const actors::error&) {
    return nullptr; // it died while idle (killed from outside): start one instead
  }
  s->orders.close();
  return await_report(s->report, s->proc, type);
}

void stop_spares() noexcept {
  auto* pool = pool_ptr();
  std::thread maker;
  {
    std::lock_guard<std::mutex> lock(pool->mtx);
    pool->stopping = true;
    pool->ready.clear();
    maker = std::move(pool->maker);
  }
  if (maker.joinable())
    maker.join();
  std::lock_guard<std::mutex> lock(pool->mtx);
  pool->ready.clear(); // one the maker finished meanwhile
  pool->stopping = false; // a later node of this process starts afresh
  pool->failed = false;
  pool->method.reset();
}

void drop_inherited_spares() noexcept {
  // In a fork()ed child: the maker thread is not here; its pool is leaked.
  static auto* inherited = new std::vector<spare_pool*>;
  inherited->push_back(pool_ptr());
  pool_ptr() = new spare_pool;
}

bool await_spares(duration timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    {
      auto* pool = pool_ptr();
      std::lock_guard<std::mutex> lock(pool->mtx);
      if (static_cast<int>(pool->ready.size()) >= pool->wanted || pool->failed || !pool->method)
        return static_cast<int>(pool->ready.size()) >= pool->wanted;
    }
    if (std::chrono::steady_clock::now() >= until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::vector<int> spare_pids() {
  auto* pool = pool_ptr();
  std::lock_guard<std::mutex> lock(pool->mtx);
  std::vector<int> pids;
  for (auto& s : pool->ready)
    pids.push_back(s.proc.pid());
  return pids;
}

} // namespace actors::detail

namespace actors {

void set_spare_processes(int n) {
  if (n < 0 || n > 64)
    throw error(errc::bad_argument,
                "set_spare_processes: " + std::to_string(n) + " is not between 0 and 64");
  if (n > 0)
    detail::start_actor_runtime(); // before the maker thread: the fork server exists then
  auto* pool = detail::pool_ptr();
  std::lock_guard<std::mutex> lock(pool->mtx);
  pool->wanted = n;
  while (static_cast<int>(pool->ready.size()) > n)
    pool->ready.pop_back();
  if (!pool->method && get_start_method() != start_method::fork)
    pool->method = get_start_method();
  detail::refill(pool);
}

} // namespace actors
