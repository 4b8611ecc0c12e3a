// The node: one per OS process. Owns the fork server, the lazily created CAF
// actor system, this process's identity and its children.

#include "base/log.hpp"
#include "io/frame.hpp"
#include "io/route.hpp"
#include "io/service_loop.hpp"
#include "io/transport.hpp"
#include "runtime/control.hpp"
#include "runtime/node_hooks.hpp"
#include "runtime/runtime.hpp"

#include <actors/detail/serialize.hpp>
#include <actors/node.hpp>
#include <actors/process.hpp>

#include <caf/atom.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <cxxabi.h>
#include <iostream>
#include <sys/wait.h>
#include <typeinfo>
#include <unistd.h>

namespace actors {

namespace detail {

namespace {

std::atomic<node_state*> the_node{nullptr};


// The report a child prints when its target throws (Python prints a
// traceback).
std::string describe_current_exception() {
  auto [name, message] = current_exception_info();
  return message.empty() ? name : name + ": " + message;
}

void exit_hook() {
  // std::exit() while the node runs: do what the guard's destructor (in a
  // child, the end of child_main()) would have done, so buffered queue items
  // leave and threads and children are joined.
  if (auto* n = the_node.load(); n && n->self && n->self->pid == ::getpid())
    n->shutdown(true);
}

// Registers exit_hook once per process image. A fork-server or spawn child
// has not inherited it (the fork server is forked before main's node
// registers it; spawn starts a new image), so child_main() calls this too.
// Registered when the node starts, it runs before the destructors of statics
// made before that, and after those of statics made later.
void hook_exit() {
  static bool hooked = (std::atexit(exit_hook), true);
  (void) hooked;
}

std::shared_ptr<process_state> make_self(std::string name, std::vector<int> identity,
                                         bool daemon, int parent_pid) {
  auto s = std::make_shared<process_state>();
  s->kind = role::self;
  s->name = std::move(name);
  s->identity = std::move(identity);
  s->daemon = daemon;
  s->pid = ::getpid();
  s->parent_pid = parent_pid;
  s->started = true;
  return s;
}


// The layers below the node (the log, the transport) include nothing of it:
// it hands them what they need, before main() runs.
[[maybe_unused]] const bool lower_layers_hosted = [] {
  set_log_process_name([]() -> std::string {
    try {
      return current_process().name();
    } catch (const actors::error&) {
      return "MainProcess";
    }
  });
  transport_host host;
  // The fork server must exist before the transport's first thread.
  host.prepare = [] { (void) require_node().ensure_forkserver(); };
  // Called under the transport's lock, after prepare: takes no node lock.
  host.remove_at_exit = [](const std::string& dir) {
    if (auto* n = current_node(); n && n->forkserver)
      forkserver_cleanup_on_exit(*n->forkserver, dir);
  };
  set_transport_host(host);
  return true;
}();

} // namespace

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : mangled;
  std::free(s);
  return out;
}

std::pair<std::string, std::string> current_exception_info() {
  auto* type = abi::__cxa_current_exception_type();
  std::string name = type ? demangle(type->name()) : "unknown exception";
  try {
    throw;
  } catch (const std::exception& e) {
    return {name, e.what()};
  } catch (const system_exit& e) {
    return {name, "exit code " + std::to_string(e.code())};
  } catch (...) {
    return {name, ""};
  }
}

int node_daemon_threads(int delta) noexcept {
  static std::atomic<int> count{0};
  return count.fetch_add(delta) + delta;
}

node_state* current_node() noexcept {
  return the_node.load();
}

node_state& require_node() {
  if (auto* n = the_node.load())
    return *n;
  throw error(errc::no_node,
              "no libactors node is running in this process: create "
              "`actors::node node;` first thing in main()");
}

int exitcode_from_wait_status(int status) noexcept {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return -WTERMSIG(status);
  return -SIGKILL;
}

void flush_std_streams() noexcept {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
}

forkserver_client& node_state::ensure_forkserver() {
  std::lock_guard<std::recursive_mutex> guard(mtx);
  if (!forkserver)
    forkserver = start_forkserver();
  return *forkserver;
}

void node_state::shutdown(bool at_exit) noexcept {
  run_node_hooks(&node_hooks::join);  // as Python at exit: threads may still use anything
  run_node_hooks(&node_hooks::flush); // what this process put leaves before anything stops
  stop_spares();      // no spare is started from now on
  std::vector<std::shared_ptr<process_state>> kids;
  {
    std::lock_guard<std::recursive_mutex> guard(mtx);
    kids.swap(children);
  }
  // As Python at exit: daemons are terminated, the others joined. A daemon
  // that ignores SIGTERM gets SIGKILL after a second instead of a hang.
  auto each_open_child = [&kids](bool daemons_only, auto&& fn) {
    for (auto& k : kids) {
      if (daemons_only && !k->daemon)
        continue;
      try {
        process p(k);
        fn(p, *k);
      } catch (const actors::error& e) {
        if (e.value() != errc::closed)
          std::fprintf(stderr, "actors: while stopping the node: %s\n", e.what());
      }
    }
  };
  each_open_child(true, [](process& p, process_state&) {
    if (p.is_alive())
      p.terminate();
  });
  each_open_child(false, [](process& p, process_state& k) {
    if (k.daemon)
      join_or_kill(p);
    else
      p.join();
  });
  stop_actor_runtime(); // actors stop, their monitors hear it; then the transport
  run_node_hooks(&node_hooks::stop); // the servers' clients (our children) are gone now
  stop_control_endpoint();           // nothing is served on the node's socket any more
  stop_service_loop();               // the servers on it have stopped
  if (forkserver) {
    stop_forkserver(*forkserver);
    forkserver.reset();
  }
  if (node_daemon_threads(0) > 0 || at_exit) {
    // A daemon thread still runs in the actor system: destroying it would
    // wait for that thread. Inside exit() the calling thread's thread-locals
    // are gone already, and CAF's destructor reads them. Either way the
    // process is ending: its actors are awaited, the system is left to the
    // end (hidden daemon threads are not awaited).
    if (sys)
      sys->await_all_actors_done();
    (void) sys.release();
    (void) cfg.release();
  } else {
    sys.reset(); // its actors are done; non-daemon threads were joined above
    cfg.reset();
  }
}

fork_quiet::fork_quiet() {
  if (auto* t = transport::running()) {
    t->park_for_fork();
    transport_ = t;
  }
  if (auto* l = service_loop_if_running()) {
    // It runs only the node's own code, which never blocks for long.
    if (!l->park(std::chrono::milliseconds(100)))
      log::debug() << "fork: the service loop stayed busy; forking anyway";
    service_ = l;
  }
}

fork_quiet::~fork_quiet() {
  if (transport_)
    static_cast<transport*>(transport_)->unpark_after_fork();
  if (service_)
    static_cast<event_loop*>(service_)->unpark();
}

void drop_inherited_node() noexcept {
  // Runs in a fork()ed child (a fork child, or the fork server). Other
  // threads of the parent do not exist here, so no lock is taken: one could
  // be held forever.
  forget_codec_state_after_fork();
  set_frame_cap(default_frame_cap); // set_max_frame_size is per process
  run_node_hooks(&node_hooks::drop_inherited);
  drop_inherited_actors();
  drop_inherited_control_endpoint();
  drop_inherited_service_loop();
  auto* n = the_node.load();
  if (!n)
    return;
  if (n->forkserver)
    ::close(n->forkserver->control.release());
  for (auto& k : n->children) {
    ::close(k->status.release());
    ::close(k->pidfd.release());
  }
  if (n->parent)
    ::close(n->parent->pidfd.release());
  // The parent's node (and its actor system, whose threads are not here) is
  // leaked on purpose: destroying it would wait for threads that do not exist.
  the_node.store(nullptr);
}

bool send_boot_answer(int link, boot_status status, const std::string& message) noexcept {
  std::string payload(1, static_cast<char>(status));
  payload += message;
  return send_frame(link, frame_kind::boot, payload.data(), payload.size(), {});
}

inherited_settings inherited_settings::current() {
  inherited_settings s;
  s.default_method = static_cast<int>(get_start_method());
  auto lc = log::current_config();
  s.log_format = lc.format;
  s.log_datefmt = lc.datefmt;
  s.log_threshold = static_cast<int>(lc.threshold);
  s.busy_poll_ns = busy_poll_slot().load(std::memory_order_relaxed);
  s.cluster_host = detail::cluster_host();
  s.gateway = detail::gateway_path();
  s.cluster_node = detail::cluster_node();
  return s;
}

void inherited_settings::apply() const noexcept {
  set_start_method(static_cast<start_method>(default_method));
  busy_poll_slot().store(busy_poll_ns, std::memory_order_relaxed);
  if (cluster_host != detail::cluster_host() || gateway != gateway_path())
    detail::set_cluster_route(cluster_host, gateway, cluster_node);
  auto lc = log::current_config();
  if (lc.format == log_format && lc.datefmt == log_datefmt
      && static_cast<int>(lc.threshold) == log_threshold)
    return;
  try {
    log::basic_config({log_format, log_datefmt, static_cast<log::level>(log_threshold)});
  } catch (...) {
  }
}

[[noreturn]] void child_main(int link) noexcept {
  frame_header header;
  std::string bytes;
  std::vector<int> fds; // the descriptors the target's arguments carry
  std::string why;
  if (recv_frame(link, header, bytes, fds, forever, why) != recv_status::ok
      || header.kind != frame_kind::boot)
    _exit(1); // the parent died before it sent the boot record
  boot_record rec;
  try {
    rec = decode<boot_record>(bytes);
  } catch (...) {
    send_boot_answer(link, boot_status::failed, "the boot record did not decode");
    _exit(1);
  }
  auto* n = new node_state;
  n->self = make_self(rec.name, rec.identity, rec.daemon, rec.parent_pid);
  auto parent = std::make_shared<process_state>();
  parent->kind = role::parent;
  parent->name = rec.parent_name;
  parent->pid = rec.parent_pid;
  parent->started = true;
  parent->pidfd.reset(pidfd_open(rec.parent_pid));
  n->parent = parent;
  the_node.store(n);
  hook_exit(); // std::exit() in the target stops this node too
  rec.settings.apply();
  set_root_endpoint(rec.root_endpoint);
  set_parent_endpoint(rec.parent_endpoint);

  auto trampoline = reinterpret_cast<trampoline_fn>(resolve(rec.trampoline));
  auto target = resolve(rec.target);
  if (!trampoline || !target) {
    auto& missing = trampoline ? rec.target : rec.trampoline;
    char offset[32];
    std::snprintf(offset, sizeof offset, "%llx",
                  static_cast<unsigned long long>(missing.offset));
    send_boot_answer(
      link, boot_status::target_not_found,
      "the target of " + rec.name + " cannot be found in the child: "
        + (missing.module.empty() ? std::string("the program") : missing.module) + " +0x"
        + offset
        + " is not loaded there (a library dlopen'ed after the node started is not in "
          "forkserver or spawn children; use start_method::fork or link the library)");
    _exit(1);
  }
  if (!send_boot_answer(link, boot_status::running))
    _exit(1);
  ::close(link); // the parent closes its end after this answer
  if (rec.host_actors) {
    n->ensure_forkserver(); // while no thread of this process exists
    host_actors_for_parent(rec.parent_endpoint);
  }

  int code = 0;
  try {
    code = trampoline(target, rec.payload, &fds);
  } catch (const system_exit& e) {
    code = e.code();
  } catch (...) {
    auto report = "Process " + rec.name + ":\n" + describe_current_exception() + "\n";
    flush_std_streams();
    write_all(STDERR_FILENO, report.data(), report.size());
    code = 1;
  }
  n->shutdown();
  flush_std_streams();
  _exit(code);
}

} // namespace detail

namespace {

// Queue items and messages of a MiB or more go through buffers that glibc's
// malloc hands back to the kernel as soon as they are freed: its trim
// threshold follows its mmap threshold (128 KiB, rising to at most 32 MiB),
// so the next buffer starts on fresh pages. On the virtual machines this was
// measured on a page fault costs about 20 us, 5 ms per fresh MiB, and the
// faults were over 90% of queue.bandwidth.1MiB's time. Big blocks below 32 MiB
// now come from malloc's arenas, and up to 64 MiB freed at their top stays
// there for reuse (docs/performance.md, "Fresh pages"): the values glibc's
// own dynamic thresholds reach after a program frees a 32 MiB block, set
// from the start. A program that tunes malloc itself (GLIBC_TUNABLES) or
// sets ACTORS_MALLOC=default keeps glibc's defaults.
void keep_freed_memory() noexcept {
  if (const char* t = std::getenv("GLIBC_TUNABLES"); t && std::strstr(t, "glibc.malloc."))
    return;
  if (const char* m = std::getenv("ACTORS_MALLOC"); m && std::strcmp(m, "default") == 0)
    return;
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

} // namespace

node::node() {
  keep_freed_memory(); // first: a spawned child takes over below
  if (const char* boot = std::getenv("ACTORS_BOOT_FD")) {
    int fd = std::atoi(boot);
    ::unsetenv("ACTORS_BOOT_FD");
    detail::child_main(fd);
  }
  if (detail::current_node())
    throw error(errc::node_exists,
                "a libactors node is already running in this process; create "
                "exactly one actors::node, in main()");
  auto n = std::make_unique<detail::node_state>();
  n->self = detail::make_self("MainProcess", {}, false, 0);
  n->ensure_forkserver();
  detail::the_node.store(n.release());
  // actors-top's control endpoint is the transport's socket. It opens with
  // the first actor, queue, pool, thread or manager (which run threads anyway); a
  // program without any stays thread-free, so fork() stays safe in it,
  // unless ACTORS_CONTROL=on asks for the endpoint from the start.
  if (const char* control = std::getenv("ACTORS_CONTROL"); control && std::string(control) == "on")
    detail::start_control_endpoint();
  detail::hook_exit();
  // Started by actors-node: this program is a worker host of a cluster.
  if (std::getenv("ACTORS_JOIN"))
    detail::run_join_main();
}

node::~node() {
  auto* n = detail::the_node.load();
  if (!n)
    return;
  n->shutdown();
  detail::the_node.store(nullptr);
  delete n;
}

caf::actor_system& system() {
  auto& n = detail::require_node();
  std::lock_guard<std::recursive_mutex> guard(n.mtx);
  if (!n.sys) {
    n.ensure_forkserver(); // before the first actor-system thread exists
    n.cfg = std::make_unique<caf::actor_system_config>();
    // ACTORS_CAF_SCHEDULER=testing runs the node's actors on CAF's
    // deterministic test coordinator: nothing runs until a test steps it.
    if (const char* policy = std::getenv("ACTORS_CAF_SCHEDULER"); policy && std::string(policy) == "testing")
      n.cfg->set("scheduler.policy", caf::atom("testing"));
    n.sys = std::make_unique<caf::actor_system>(*n.cfg);
  }
  return *n.sys;
}

bool node_running() noexcept {
  return detail::current_node() != nullptr;
}

void set_max_frame_size(std::size_t bytes) {
  if (bytes < 64 || bytes > 0xFFFFFFFFu)
    throw error(errc::bad_argument, "set_max_frame_size: " + std::to_string(bytes)
                                      + " bytes is outside [64, 4 GiB - 1]");
  detail::set_frame_cap(bytes);
}

std::size_t max_frame_size() noexcept {
  return detail::frame_cap();
}

void set_busy_poll(std::chrono::microseconds t) {
  if (t < std::chrono::microseconds::zero() || t > std::chrono::milliseconds(10))
    throw error(errc::bad_argument, "set_busy_poll: " + std::to_string(t.count())
                                      + " us is not between 0 and 10000 us");
  detail::busy_poll_slot().store(std::chrono::nanoseconds(t).count(), std::memory_order_relaxed);
}

std::chrono::microseconds busy_poll() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(
    std::chrono::nanoseconds(detail::busy_poll_slot().load(std::memory_order_relaxed)));
}

} // namespace actors
