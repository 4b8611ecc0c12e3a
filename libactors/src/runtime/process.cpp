#include "runtime/runtime.hpp"

#include <actors/node.hpp>
#include <actors/future.hpp>

#include <actors/process.hpp>
#include <actors/wait.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <ostream>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace actors {

namespace {

std::atomic<start_method> default_method{start_method::forkserver};

using detail::process_state;
using detail::role;

std::string joined_name(const std::vector<int>& identity) {
  std::string name = "Process-";
  for (std::size_t i = 0; i < identity.size(); ++i) {
    if (i > 0)
      name += ':';
    name += std::to_string(identity[i]);
  }
  return name;
}

void check_open(const process_state& s) {
  if (s.closed)
    throw error(errc::closed, "process object " + s.name + " is closed");
}

void check_startable_setting(const process_state& s, const char* what) {
  check_open(s);
  if (s.started)
    throw error(errc::already_started,
                std::string("cannot change ") + what + " of " + s.name + " after start()");
}

// Reads the exit status once the sentinel is ready. Caller holds s.mtx.
void collect(process_state& s) {
  if (s.exitcode)
    return;
  if (s.method == start_method::fork) {
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(s.pidfd.get()), &info,
                 WEXITED | WNOHANG)
          != 0)
      return;
    if (info.si_pid == 0)
      return; // not exited yet
    s.exitcode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
    return;
  }
  std::int32_t status = 0;
  if (detail::read_all(s.status.get(), &status, sizeof status))
    s.exitcode = detail::exitcode_from_wait_status(status);
  else
    s.exitcode = -SIGKILL; // the fork server died, and took the child with it
}

// Non-blocking: true if the process has exited (exitcode then set).
bool poll_exit(process_state& s) {
  std::lock_guard<std::mutex> guard(s.mtx);
  if (s.exitcode)
    return true;
  if (s.kind == role::parent) {
    if (s.pidfd.get() < 0)
      return true;
    pollfd p{s.pidfd.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  pollfd p{s.sentinel_fd(), POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0)
    return false;
  collect(s);
  return s.exitcode.has_value();
}

void send_signal(process_state& s, int sig, const char* what) {
  std::lock_guard<std::mutex> guard(s.mtx);
  check_open(s);
  if (!s.started)
    throw error(errc::not_started, std::string("cannot ") + what + " " + s.name
                                     + ": it was never started");
  if (s.kind != role::child)
    throw error(errc::not_a_child,
                std::string("can only ") + what + " a child process, not " + s.name);
  if (s.exitcode)
    return;
  if (::syscall(SYS_pidfd_send_signal, s.pidfd.get(), sig, nullptr, 0) != 0
      && errno != ESRCH)
    detail::throw_errno(std::string(what) + " (pidfd_send_signal)");
}

// Python's _cleanup(): drops finished children from the node's registry, so a
// program that starts processes forever does not grow. A child nobody else
// holds a handle to is reaped here; one with handles stays until it is joined.
void forget_finished_children(detail::node_state& n) {
  auto finished = [](const std::shared_ptr<process_state>& k) {
    {
      std::lock_guard<std::mutex> guard(k->mtx);
      if (k->closed || k->exitcode)
        return true;
    }
    return k.use_count() == 1 && poll_exit(*k);
  };
  auto gone = std::stable_partition(n.children.begin(), n.children.end(),
                                    [&](const std::shared_ptr<process_state>& k) { return !finished(k); });
  for (auto it = gone; it != n.children.end(); ++it) {
    std::lock_guard<std::mutex> guard((*it)->mtx);
    if ((*it)->exitcode) {
      n.recent_exits.emplace_back((*it)->pid, *(*it)->exitcode);
      if (n.recent_exits.size() > 256)
        n.recent_exits.pop_front();
    }
  }
  n.children.erase(gone, n.children.end());
}

detail::boot_record make_boot_record(const process_state& s, const detail::node_state& n) {
  detail::boot_record rec;
  rec.name = s.name;
  rec.identity = s.identity;
  rec.daemon = s.daemon;
  rec.parent_pid = ::getpid();
  rec.parent_name = n.self->name;
  rec.trampoline = detail::locate(reinterpret_cast<detail::any_fn>(s.call.trampoline));
  rec.target = detail::locate(s.call.target);
  rec.payload = s.call.payload;
  rec.settings = detail::inherited_settings::current();
  rec.root_endpoint = detail::root_endpoint();
  rec.parent_endpoint = detail::own_endpoint_if_running();
  rec.host_actors = !rec.parent_endpoint.empty() && detail::actor_runtime_ready()
                    && !detail::no_actor_hosting::active();
  return rec;
}

} // namespace

const char* to_string(start_method m) noexcept {
  switch (m) {
    case start_method::forkserver:
      return "forkserver";
    case start_method::spawn:
      return "spawn";
    case start_method::fork:
      return "fork";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, start_method m) {
  return out << to_string(m);
}

void set_start_method(start_method m) noexcept {
  default_method.store(m);
}

start_method get_start_method() noexcept {
  return default_method.load();
}

process::process(detail::invocation inv) {
  auto& n = detail::require_node();
  state_ = std::make_shared<process_state>();
  std::lock_guard<std::recursive_mutex> guard(n.mtx);
  state_->identity = n.self->identity;
  state_->identity.push_back(n.next_child++);
  state_->name = joined_name(state_->identity);
  state_->daemon = n.self->daemon;
  state_->method = get_start_method();
  // The arguments' descriptors are duplicated now: the caller may close its
  // own (as Python programs close a child's pipe end) before start().
  for (int fd : inv.fds) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
      detail::throw_errno("dup of an argument's descriptor");
    state_->arg_fds.emplace_back(copy);
  }
  inv.fds.clear();
  state_->call = std::move(inv);
}

process::process(std::shared_ptr<process_state> state) noexcept : state_(std::move(state)) {}

process::~process() = default;

std::string process::name() const {
  std::lock_guard<std::mutex> guard(state_->mtx);
  return state_->name;
}

process& process::name(std::string new_name) {
  std::lock_guard<std::mutex> guard(state_->mtx);
  check_open(*state_);
  state_->name = std::move(new_name);
  return *this;
}

bool process::daemon() const {
  std::lock_guard<std::mutex> guard(state_->mtx);
  return state_->daemon;
}

process& process::daemon(bool value) {
  std::lock_guard<std::mutex> guard(state_->mtx);
  check_startable_setting(*state_, "the daemon flag");
  state_->daemon = value;
  return *this;
}

start_method process::method() const {
  std::lock_guard<std::mutex> guard(state_->mtx);
  return state_->method;
}

process& process::method(start_method m) {
  std::lock_guard<std::mutex> guard(state_->mtx);
  check_startable_setting(*state_, "the start method");
  state_->method = m;
  return *this;
}

int process::pid() const {
  std::lock_guard<std::mutex> guard(state_->mtx);
  return state_->pid;
}

void process::start() {
  auto& n = detail::require_node();
  auto& s = *state_;
  std::unique_lock<std::mutex> guard(s.mtx);
  check_open(s);
  if (s.started)
    throw error(errc::already_started, "cannot start a process twice (" + s.name + ")");
  auto record = make_boot_record(s, n);
  s.hosts_actors = record.host_actors;
  auto boot = detail::encode(record);
  auto [link, child_link] = detail::socket_pair(SOCK_STREAM);

  if (s.method == start_method::fork) {
    detail::flush_std_streams();
    int parent_pid = ::getpid();
    std::optional<detail::fork_quiet> quiet{std::in_place};
    int pid = ::fork();
    if (pid != 0)
      quiet.reset(); // the parent's threads go on; the child has none of them
    if (pid < 0)
      detail::throw_errno("fork");
    if (pid == 0) {
      ::close(link.release());
      detail::drop_inherited_node();
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent_pid)
        _exit(1);
      detail::child_main(child_link.release());
    }
    s.pid = pid;
    s.pidfd.reset(detail::pidfd_open(pid)); // our unreaped child: no reuse race
  } else {
    auto& fs = n.ensure_forkserver();
    s.pid = detail::forkserver_start(fs, s.method, child_link.get(), s.status);
    s.pidfd.reset(detail::pidfd_open(s.pid));
  }
  child_link.reset();
  s.started = true;
  s.parent_pid = ::getpid();

  // The child answers once it has found its target; a child that died first
  // (exec failed, killed) closes the link instead.
  std::vector<int> fds;
  for (auto& fd : s.arg_fds)
    fds.push_back(fd.get());
  bool sent = detail::send_frame(link.get(), detail::frame_kind::boot, boot.data(),
                                 boot.size(), fds);
  s.arg_fds.clear(); // the child has its own copies now
  detail::frame_header header;
  std::string answer, why;
  std::vector<int> none;
  bool answered = sent
                  && detail::recv_frame(link.get(), header, answer, none, forever, why)
                       == detail::recv_status::ok
                  && header.kind == detail::frame_kind::boot && !answer.empty();
  link.reset(); // nothing more travels on it: the child closes its end too
  auto status = answered ? static_cast<detail::boot_status>(answer[0])
                         : detail::boot_status::failed;
  if (status != detail::boot_status::running) {
    guard.unlock();
    join();
    if (answered)
      why = answer.substr(1);
    if (status == detail::boot_status::target_not_found)
      throw error(errc::target_not_found, why);
    throw error(errc::system_error,
                s.name + " exited during start-up (exitcode "
                  + std::to_string(s.exitcode.value_or(-1)) + ")"
                  + (why.empty() ? std::string() : ": " + why));
  }
  guard.unlock();
  std::lock_guard<std::recursive_mutex> ng(n.mtx);
  forget_finished_children(n);
  n.children.push_back(state_);
}

namespace detail {
bool join_or_kill(process& p, duration grace) {
  if (p.join(grace))
    return true;
  p.kill();
  p.join();
  return false;
}
} // namespace detail

void process::join() {
  join(forever);
}

bool process::join(duration timeout) {
  auto& s = *state_;
  int fd;
  {
    std::lock_guard<std::mutex> guard(s.mtx);
    check_open(s);
    if (s.kind == role::self)
      throw error(errc::join_self, "a process cannot join itself (" + s.name + ")");
    if (!s.started)
      throw error(errc::not_started, "can only join a started process (" + s.name + ")");
    if (s.exitcode)
      return true;
    if (s.kind == role::child && s.parent_pid != ::getpid())
      throw error(errc::not_a_child, "can only join a child process (" + s.name + ")");
    fd = s.sentinel_fd();
  }
  if (fd >= 0 && !detail::wait_readable(fd, timeout))
    return false;
  return poll_exit(s);
}

bool process::is_alive() {
  auto& s = *state_;
  {
    std::lock_guard<std::mutex> guard(s.mtx);
    check_open(s);
    if (s.kind == role::self)
      return true;
    if (!s.started)
      return false;
  }
  return !poll_exit(s);
}

std::optional<int> process::exitcode() {
  auto& s = *state_;
  {
    std::lock_guard<std::mutex> guard(s.mtx);
    check_open(s);
    if (!s.started || s.kind != role::child)
      return std::nullopt;
  }
  poll_exit(s);
  std::lock_guard<std::mutex> guard(s.mtx);
  return s.exitcode;
}

void process::terminate() {
  send_signal(*state_, SIGTERM, "terminate");
}

void process::kill() {
  send_signal(*state_, SIGKILL, "kill");
}

void process::interrupt() {
  send_signal(*state_, SIGINT, "interrupt");
}

void process::close() {
  auto& s = *state_;
  bool running = false;
  {
    std::lock_guard<std::mutex> guard(s.mtx);
    running = s.kind == role::child && s.started && !s.closed && !s.exitcode;
  }
  if (running && !poll_exit(s))
    throw error(errc::still_running,
                "cannot close " + name() + " while it is still running; join() or "
                "kill() it first");
  std::lock_guard<std::mutex> guard(s.mtx);
  s.closed = true;
  s.status.reset();
  s.pidfd.reset();
}

int process::sentinel() const {
  std::lock_guard<std::mutex> guard(state_->mtx);
  check_open(*state_);
  if (!state_->started)
    throw error(errc::not_started, "a process has no sentinel before start() (" + state_->name
                                     + ")");
  return state_->sentinel_fd();
}

process current_process() {
  return process(detail::require_node().self);
}

std::optional<process> parent_process() {
  auto& n = detail::require_node();
  if (!n.parent)
    return std::nullopt;
  return process(n.parent);
}

std::vector<process> active_children() {
  auto& n = detail::require_node();
  std::vector<std::shared_ptr<process_state>> kids;
  {
    std::lock_guard<std::recursive_mutex> guard(n.mtx);
    kids = n.children;
  }
  std::vector<process> alive;
  std::vector<std::shared_ptr<process_state>> keep;
  for (auto& k : kids) {
    if (!poll_exit(*k)) {
      bool spare;
      {
        std::lock_guard<std::mutex> lock(k->mtx);
        spare = k->spare;
      }
      if (!spare) // the node's own, until it is taken
        alive.emplace_back(k);
      keep.push_back(k);
    }
  }
  std::lock_guard<std::recursive_mutex> guard(n.mtx);
  // Children started meanwhile by another thread stay registered.
  for (auto& k : n.children)
    if (std::find(kids.begin(), kids.end(), k) == kids.end())
      keep.push_back(k);
  n.children = std::move(keep);
  return alive;
}

int cpu_count() noexcept {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

std::vector<std::size_t> wait(const std::vector<waitable>& objects, duration timeout) {
  std::vector<pollfd> fds;
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i].fd() < 0)
      ready.push_back(i); // ready already (a queue holding fetched items)
    fds.push_back({objects[i].fd(), POLLIN, 0}); // poll() skips negative fds
  }
  if (!ready.empty())
    timeout = duration::zero();
  if (detail::poll_for(fds.data(), fds.size(), timeout) > 0) {
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents)
        ready.push_back(i);
    std::sort(ready.begin(), ready.end());
  }
  return ready;
}

} // namespace actors
