#pragma once
// The node's internal state, the per-process state behind actors::process,
// and the pieces that start children. Never installed.

#include "base/fd.hpp"
#include "io/frame.hpp"

#include <atomic>
#include <actors/detail/target.hpp>
#include <actors/log.hpp>
#include <actors/process.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace actors::detail {

/// The settings a child takes from its parent: when it starts (in its boot
/// record), or, for a spare process, when it is taken (in its order).
struct inherited_settings {
  int default_method = 0;
  std::string log_format;
  std::string log_datefmt;
  int log_threshold = 20;
  std::int64_t busy_poll_ns = 50'000;
  // The cluster route (io/route.hpp): set in a child of a host's node that
  // joined a cluster after its fork server started.
  std::string cluster_host, gateway, cluster_node;

  /// This process's settings now.
  static inherited_settings current();
  /// Makes them this process's (in the child); the log configuration only
  /// if it differs, since setting it costs tens of microseconds.
  void apply() const noexcept;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(default_method, log_format, log_datefmt, log_threshold, busy_poll_ns, cluster_host,
       gateway, cluster_node);
  }
};

/// What a parent sends a child over their link before the target runs.
struct boot_record {
  std::string name;
  std::vector<int> identity; // Process-1:2 is {1, 2}
  bool daemon = false;
  int parent_pid = 0;
  std::string parent_name;
  code_location trampoline;
  code_location target;
  std::string payload;
  inherited_settings settings;
  std::string root_endpoint;   // the root node's actor transport (the registry)
  std::string parent_endpoint; // the parent's, if it runs (it knows our exit status)
  bool host_actors = false;    // start the transport and tell the parent its endpoint

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, identity, daemon, parent_pid, parent_name, trampoline, target, payload,
       settings, root_endpoint, parent_endpoint, host_actors);
  }
};

/// The child's answer on the link once it has found its target: a boot frame
/// holding the status byte and, unless running, a message.
enum class boot_status : unsigned char { running = 0, target_not_found = 1, failed = 2 };

/// Sends the child's answer. Returns false if the parent is gone.
bool send_boot_answer(int link, boot_status status, const std::string& message = {}) noexcept;

/// What kind of process a process_state describes.
enum class role { child, self, parent };

struct process_state {
  std::mutex mtx;
  role kind = role::child;
  std::string name;
  std::vector<int> identity;
  bool daemon = false;
  start_method method = start_method::forkserver;
  invocation call;
  int pid = 0;
  bool started = false;
  bool hosts_actors = false; // its boot record asked it to host actors
  bool spare = false;        // an idle spare (see set_spare_processes): not listed
  bool closed = false;
  std::optional<int> exitcode;
  int parent_pid = 0;       // the pid that started it, for "join yourself"
  unique_fd status;         // fork server children: pid, then wait status
  unique_fd pidfd;          // signals without pid reuse; sentinel for fork
  std::vector<unique_fd> arg_fds; // descriptors the arguments carry, until start()

  int sentinel_fd() const noexcept {
    return method == start_method::fork || kind != role::child ? pidfd.get()
                                                               : status.get();
  }
};

/// The runtime's way into a process handle.
struct process_access {
  static process_state& state(const process& p) noexcept { return *p.state_; }
};

/// How long a child the library stops gets to exit by itself before it is
/// killed: join_or_kill's, and the pool's, which waits on its loop instead.
inline constexpr std::chrono::seconds stop_grace{1};

/// The one way the library stops a child it owns: waits up to `grace` for
/// it to exit by itself, then kills it (SIGKILL) and waits for that. True
/// when it exited within `grace`; false when it had to be killed (the
/// caller says so in the log where that is news). Blocks at most `grace`
/// plus the kill.
bool join_or_kill(process& p, duration grace = stop_grace);

/// Converts a waitpid() status to Python's exitcode convention.
int exitcode_from_wait_status(int status) noexcept;

/// The fork server as seen from its node.
struct forkserver_client {
  int pid = 0;
  unique_fd control; // SOCK_SEQPACKET
};

/// Forks the fork server. Must run before any thread exists in the process.
forkserver_client start_forkserver();

/// Asks the fork server for a child. Returns the pid; `status` receives the
/// socket on which the wait status arrives.
int forkserver_start(forkserver_client& fs, start_method m, int child_link,
                     unique_fd& status);

/// Asks the fork server to remove socket directory `dir` (its node.sock and
/// itself) once the node is gone, however it ends.
void forkserver_cleanup_on_exit(forkserver_client& fs, const std::string& dir);

/// Stops the fork server: it kills any child it still has and exits.
void stop_forkserver(forkserver_client& fs) noexcept;

/// Everything one node knows. One per OS process, reachable via current_node().
struct node_state {
  std::recursive_mutex mtx;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::shared_ptr<process_state> self;
  std::shared_ptr<process_state> parent; // null in the main process
  int next_child = 1;
  std::vector<std::shared_ptr<process_state>> children;
  /// (pid, exit code) of the last children dropped from `children` once
  /// they had ended: a watcher that hears of a death a little later can
  /// still say why (a signal, an exit code) instead of "unreachable".
  std::deque<std::pair<int, int>> recent_exits;
  std::optional<forkserver_client> forkserver;
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;

  /// Starts the fork server unless it runs already or threads exist.
  forkserver_client& ensure_forkserver();
  /// Joins non-daemon threads, then non-daemon children, terminates daemon
  /// children, stops the fork server and the actor system. Idempotent.
  /// `at_exit`: called inside exit() (the atexit hook): the actor system's
  /// actors are awaited, but it is not destroyed.
  void shutdown(bool at_exit = false) noexcept;
};

/// Counts daemon actors::threads still running (delta +1 at start, -1 at
/// the end). While any runs, the node's stop leaves the actor system alone
/// (the process is ending; Python abandons daemon threads too).
int node_daemon_threads(int delta) noexcept;

/// The node of this process, or nullptr.
node_state* current_node() noexcept;
/// The node of this process; throws errc::no_node.
node_state& require_node();

/// Entered in a new child (after fork, or after exec from node's
/// constructor): reads the boot record from `link`, runs the target and
/// exits the process. Never returns.
[[noreturn]] void child_main(int link) noexcept;

/// Closes every descriptor a forked child must not keep from its parent's
/// node (the fork server's control socket, children's links...) and forgets
/// the state of the thread that forked. Called in fork children and in the
/// fork server.
void drop_inherited_node() noexcept;

/// Held across fork() in the parent: the node's own threads wait at a quiet
/// point meanwhile, so the child inherits no lock one of them held (under
/// ASan, its allocator's lock: seen as a hang). drop_inherited_node() is
/// the child's half.
class fork_quiet {
public:
  fork_quiet();
  ~fork_quiet();
  fork_quiet(const fork_quiet&) = delete;
  fork_quiet& operator=(const fork_quiet&) = delete;

private:
  void* transport_ = nullptr;
  void* service_ = nullptr;
};

/// A C++ type or symbol name as written in source ("counter::add(int)").
std::string demangle(const char* mangled);

/// Inside a catch block: the demangled type of the exception being handled
/// and its what() ("exit code N" for actors::system_exit, "" for another type
/// not derived from std::exception).
std::pair<std::string, std::string> current_exception_info();

/// The root node's transport endpoint, which serves the registry: in the
/// root, its own (started on first call); in a child, what its boot record
/// said.
std::string root_endpoint();
void set_root_endpoint(std::string e);
/// This node's transport endpoint if it runs, else "" (for boot records).
std::string own_endpoint_if_running();
void set_parent_endpoint(std::string e);

/// getpid(), cached (a system call costs more than a local tell); fork()
/// resets it through pthread_atfork.
int self_pid() noexcept;

/// True once this node runs actors (its CAF system is bound to the
/// transport): the children it starts from then on host actors too.
bool actor_runtime_ready() noexcept;
/// While one lives on a thread, the children that thread starts do not host
/// actors (pool workers and the manager's server are the library's own).
struct no_actor_hosting {
  no_actor_hosting() noexcept;
  ~no_actor_hosting();
  no_actor_hosting(const no_actor_hosting&) = delete;
  no_actor_hosting& operator=(const no_actor_hosting&) = delete;
  static bool active() noexcept;
};
/// In a child whose boot record asks for it: starts the transport and tells
/// the parent node its endpoint, so the parent can spawn actors here.
void host_actors_for_parent(const std::string& parent_endpoint) noexcept;

/// Stops every actor of this node (its monitors hear "normal: the node
/// stopped") and then the transport. Part of node_state::shutdown().
void stop_actor_runtime() noexcept;
void drop_inherited_actors() noexcept;
/// Starts the transport and CAF's threads, as the first actor would, but
/// not the control endpoint (a spare process: actors-top sees it as a node
/// once it hosts an actor).
void prepare_actor_runtime();
/// Stops making spare processes and lets the idle ones go (node shutdown).
void stop_spares() noexcept;
/// In a fork()ed child: forgets the parent's spares (and its maker thread).
void drop_inherited_spares() noexcept;

/// Flushes C and C++ standard streams, so a fork does not duplicate output.
void flush_std_streams() noexcept;

} // namespace actors::detail
