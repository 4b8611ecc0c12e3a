// The fork server: a single-threaded process forked by the node before any
// actor-system thread exists. Children are forked from it, so they never
// inherit a lock held by a thread that does not exist in them. It reaps its
// children and reports each one's wait status on that child's status socket.
// When its node dies (or closes the control socket) it gives the children it
// still has half a second to end by themselves (a child may be watching
// parent_process()), kills those still running and exits, so a parent killed
// by a signal leaves no orphans.

#include "runtime/runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace actors::detail {

namespace {

constexpr unsigned char cleanup_request = 0xFE;

// What a terminal or a service manager sends to a whole process group
// (Ctrl-C, a closed terminal, `timeout`, systemd's stop). The node decides
// about those; the fork server outlives it just long enough to see it gone,
// clean up its socket directories and kill what it started. Its children
// get the default actions back.
constexpr int ignored_signals[] = {SIGINT, SIGTERM, SIGHUP};

// How long children may outlive their node: long enough to see it end
// (parent_process()->join()) and report, short enough to leave no orphans.
constexpr auto orphan_grace = std::chrono::milliseconds(500);

// Reads /proc/self/cmdline: the argv the program was started with.
std::vector<std::string> own_argv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  std::string cur;
  for (char c : all) {
    if (c == '\0') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty())
    args.push_back(cur);
  return args;
}

[[noreturn]] void fail_boot(int link, const std::string& what) {
  send_boot_answer(link, boot_status::failed, what);
  _exit(127);
}

// spawn: run the program again; actors::node's constructor finds
// ACTORS_BOOT_FD and enters child_main() there.
[[noreturn]] void exec_self(int link) {
  auto args = own_argv();
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int flags = ::fcntl(link, F_GETFD);
  ::fcntl(link, F_SETFD, flags & ~FD_CLOEXEC);
  ::setenv("ACTORS_BOOT_FD", std::to_string(link).c_str(), 1);
  ::execv("/proc/self/exe", argv.data());
  fail_boot(link, std::string("spawn: execv(/proc/self/exe) failed: ") + std::strerror(errno));
}

struct server {
  int control;
  int parent_pidfd;
  int sigfd;
  sigset_t old_mask;
  std::unordered_map<int, int> status_of; // child pid -> status socket
  std::vector<std::string> cleanup;        // socket directories of the node

  void report(int pid, int wait_status) {
    auto it = status_of.find(pid);
    if (it == status_of.end())
      return;
    std::int32_t st = wait_status;
    write_all(it->second, &st, sizeof st);
    ::close(it->second);
    status_of.erase(it);
  }

  void reap() {
    int st;
    int pid;
    while ((pid = ::waitpid(-1, &st, WNOHANG)) > 0)
      report(pid, st);
  }

  [[noreturn]] void finish() {
    // Requests still queued may include a directory to clean up: read them
    // all first (the node may have died right after sending one).
    for (;;) {
      unsigned char request[2 + 4096];
      std::vector<int> fds;
      long n = recv_with_fds(control, request, sizeof request, fds, 5, MSG_DONTWAIT);
      for (int fd : fds)
        ::close(fd);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      if (request[0] == cleanup_request)
        cleanup.emplace_back(reinterpret_cast<char*>(request) + 2,
                             static_cast<std::size_t>(n - 2));
    }
    // The node is gone (even by SIGKILL): remove its socket directories.
    for (auto& dir : cleanup)
      remove_socket_dir(dir);
    // A child watching parent_process() sees the node end when we do:
    // killing it at once would race whatever it does about that.
    auto deadline = std::chrono::steady_clock::now() + orphan_grace;
    reap();
    while (!status_of.empty()) {
      auto left = std::chrono::duration_cast<duration>(deadline - std::chrono::steady_clock::now());
      bool exited = false;
      try {
        exited = left > duration::zero() && wait_readable(sigfd, left);
      } catch (...) {
      }
      if (!exited)
        break;
      signalfd_siginfo info;
      while (::read(sigfd, &info, sizeof info) == sizeof info) {
      }
      reap();
    }
    for (auto& [pid, fd] : status_of)
      ::kill(pid, SIGKILL);
    while (!status_of.empty()) {
      int st;
      int pid = ::waitpid(-1, &st, 0);
      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0)
        break;
      report(pid, st);
    }
    _exit(0);
  }

  void start_child() {
    // Request: {method, mask of the caller's stdin/stdout/stderr that follow}
    // with fds {status socket, child's link end, the std fds in the mask}.
    unsigned char request[2 + 4096] = {0, 0};
    std::vector<int> fds;
    long n;
    do
      n = recv_with_fds(control, request, sizeof request, fds, 5);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
      for (int fd : fds)
        ::close(fd);
      finish(); // the node closed the control socket or died
    }
    if (request[0] == cleanup_request) { // a path to remove when the node dies
      cleanup.emplace_back(reinterpret_cast<char*>(request) + 2, static_cast<std::size_t>(n - 2));
      return;
    }
    std::vector<int> std_targets;
    for (int i = 0; i < 3; ++i)
      if (request[1] & (1 << i))
        std_targets.push_back(i);
    if (n != 2 || fds.size() != 2 + std_targets.size()) {
      for (int fd : fds)
        ::close(fd);
      return;
    }
    unsigned char method = request[0];
    int status_fd = fds[0];
    int link = fds[1];
    int server_pid = ::getpid();
    int pid = ::fork();
    if (pid == 0) {
      ::close(control);
      ::close(parent_pidfd);
      ::close(sigfd);
      ::close(status_fd);
      for (auto& [p, fd] : status_of)
        ::close(fd);
      // The caller's current stdio, not the fork server's (a redirect made
      // after the node started is honoured).
      for (std::size_t i = 0; i < std_targets.size(); ++i) {
        if (fds[2 + i] != std_targets[i]) {
          ::dup2(fds[2 + i], std_targets[i]);
          ::close(fds[2 + i]);
        }
      }
      for (int sig : ignored_signals)
        ::signal(sig, SIG_DFL);
      ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != server_pid)
        _exit(1);
      if (static_cast<start_method>(method) == start_method::spawn)
        exec_self(link);
      child_main(link);
    }
    std::int32_t reply = pid > 0 ? pid : -errno;
    write_all(status_fd, &reply, sizeof reply);
    for (std::size_t i = 2; i < fds.size(); ++i)
      ::close(fds[i]);
    ::close(link);
    if (pid > 0)
      status_of[pid] = status_fd;
    else
      ::close(status_fd);
  }

  [[noreturn]] void run() {
    for (;;) {
      pollfd p[3] = {{control, POLLIN, 0}, {sigfd, POLLIN, 0}, {parent_pidfd, POLLIN, 0}};
      int r = ::poll(p, parent_pidfd >= 0 ? 3 : 2, -1);
      if (r < 0) {
        if (errno == EINTR)
          continue;
        finish();
      }
      if (p[1].revents) {
        signalfd_siginfo info;
        while (::read(sigfd, &info, sizeof info) == sizeof info) {
        }
        reap();
      }
      if (parent_pidfd >= 0 && p[2].revents)
        finish();
      if (p[0].revents & POLLIN)
        start_child();
      else if (p[0].revents)
        finish();
    }
  }
};

} // namespace

namespace {

// Closes every descriptor above stderr except those in `keep`.
void close_all_descriptors_but(std::vector<int> keep) noexcept {
  std::sort(keep.begin(), keep.end());
  unsigned from = 3;
  for (int k : keep) {
    if (k < 3)
      continue;
    if (static_cast<unsigned>(k) > from)
      ::close_range(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  ::close_range(from, ~0U, 0);
}

} // namespace

forkserver_client start_forkserver() {
  auto [ours, theirs] = socket_pair(SOCK_SEQPACKET);
  unique_fd parent_pidfd(pidfd_open(::getpid()));
  flush_std_streams();
  std::optional<fork_quiet> quiet{std::in_place}; // a child's may start late
  int pid = ::fork();
  if (pid != 0)
    quiet.reset();
  if (pid < 0)
    throw_errno("fork (fork server)");
  if (pid == 0) {
    ours.reset();
    // A fork child like any other: it may have been forked lazily, in the
    // middle of decoding a child's arguments, with the child's link and pipe
    // ends open. Its own children must start from none of that.
    drop_inherited_node();
    // Nor may it hold them itself: a pipe end it kept open would hide that
    // child's death from the other end (no EOF while the fork server runs).
    close_all_descriptors_but({theirs.get(), parent_pidfd.get()});
    ::prctl(PR_SET_NAME, "actors-forksrv");
    for (int sig : ignored_signals)
      ::signal(sig, SIG_IGN);
    remove_stale_socket_dirs();
    server s{theirs.get(), parent_pidfd.get(), -1, {}, {}, {}};
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &mask, &s.old_mask);
    s.sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s.sigfd < 0)
      _exit(1);
    s.run();
  }
  forkserver_client fs;
  fs.pid = pid;
  fs.control = std::move(ours);
  return fs;
}

int forkserver_start(forkserver_client& fs, start_method m, int child_link,
                     unique_fd& status) {
  auto [mine, server_end] = socket_pair(SOCK_STREAM);
  unsigned char request[2] = {static_cast<unsigned char>(m), 0};
  std::vector<int> fds = {server_end.get(), child_link};
  for (int i = 0; i < 3; ++i)
    if (::fcntl(i, F_GETFD) != -1) {
      request[1] |= static_cast<unsigned char>(1 << i);
      fds.push_back(i);
    }
  if (!send_with_fds(fs.control.get(), request, 2, fds))
    throw error(errc::system_error, "the fork server is gone: cannot start a process");
  server_end.reset();
  std::int32_t reply = 0;
  if (!read_all(mine.get(), &reply, sizeof reply))
    throw error(errc::system_error, "the fork server is gone: cannot start a process");
  if (reply < 0)
    throw error(errc::system_error,
                std::string("fork (in the fork server) failed: ") + std::strerror(-reply));
  status = std::move(mine);
  return reply;
}

void forkserver_cleanup_on_exit(forkserver_client& fs, const std::string& dir) {
  std::string msg(2, '\0');
  msg[0] = static_cast<char>(cleanup_request);
  msg += dir;
  (void) send_with_fds(fs.control.get(), msg.data(), msg.size(), {});
}

void stop_forkserver(forkserver_client& fs) noexcept {
  if (fs.pid <= 0)
    return;
  fs.control.reset();
  int st;
  while (::waitpid(fs.pid, &st, 0) < 0 && errno == EINTR) {
  }
  fs.pid = 0;
}

} // namespace actors::detail
