#include "base/fd.hpp"

#include <actors/detail/deadline.hpp>
#include <actors/log.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

namespace actors::detail {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = fd;
}

void throw_errno(const std::string& call) {
  int e = errno;
  throw error(errc::system_error, call + " failed: " + std::strerror(e));
}

std::pair<unique_fd, unique_fd> socket_pair(int type) {
  int fds[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) != 0)
    throw_errno("socketpair");
  return {unique_fd(fds[0]), unique_fd(fds[1])};
}

bool write_all(int fd, const void* data, std::size_t size) noexcept {
  auto p = static_cast<const char*>(data);
  while (size > 0) {
    auto n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
      n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) noexcept {
  auto p = static_cast<char*>(data);
  while (size > 0) {
    auto n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

int poll_for(pollfd* fds, std::size_t count, duration timeout) {
  using clock = std::chrono::steady_clock;
  auto deadline = deadline_in(timeout);
  for (;;) {
    int ms = -1;
    if (timeout != forever) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(left_until(deadline));
      ms = left.count() < 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    int r = ::poll(fds, count, ms);
    if (r > 0)
      return r;
    if (r < 0 && errno != EINTR)
      throw_errno("poll");
    if (r == 0 && (ms == 0 || clock::now() >= deadline))
      return 0;
  }
}

bool wait_readable(int fd, duration timeout) {
  pollfd p{fd, POLLIN, 0};
  return poll_for(&p, 1, timeout) > 0;
}

int pidfd_open(int pid) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

bool send_with_fds(int sock, const void* data, std::size_t size,
                   const std::vector<int>& fds) noexcept {
  iovec iov{const_cast<void*>(data), size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    auto* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    auto n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0)
      return static_cast<std::size_t>(n) == size;
    if (errno != EINTR)
      return false;
  }
}

long recv_with_fds(int sock, void* data, std::size_t size, std::vector<int>& fds,
                   std::size_t max_fds, int flags) noexcept {
  iovec iov{data, size};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * max_fds));
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  long n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
  if (n < 0)
    return n;
  for (auto* cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    auto count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      fds.push_back(fd);
    }
  }
  return n;
}

long current_tid() noexcept {
  thread_local long tid = static_cast<long>(::syscall(SYS_gettid));
  return tid;
}

std::string private_socket_dir() {
  // The pid in the name lets actors-top find a program's node.
  std::string tmpl = "/tmp/actors-" + std::to_string(::getpid()) + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) // mode 0700
    throw_errno("mkdtemp (socket directory)");
  return tmpl;
}

private_server::private_server(const char* role)
  : dir_(private_socket_dir()), path_(dir_ + "/" + role + ".sock") {
  try {
    fd_ = listen_unix(path_);
  } catch (...) {
    ::rmdir(dir_.c_str());
    throw;
  }
}

private_server::~private_server() {
  close();
}

void private_server::close() noexcept {
  fd_.reset();
  if (std::exchange(owned_, false)) {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
}

void private_server::forget() noexcept {
  ::close(fd_.release());
  owned_ = false;
}

void remove_socket_dir(const std::string& dir) noexcept {
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        ::unlink((dir + "/" + e->d_name).c_str());
    ::closedir(d);
  }
  ::rmdir(dir.c_str());
}

void remove_stale_socket_dirs() noexcept {
  DIR* tmp = ::opendir("/tmp");
  if (!tmp)
    return;
  auto me = ::geteuid();
  while (dirent* e = ::readdir(tmp)) {
    // actors-<pid>-XXXXXX, as private_socket_dir() names them
    const char* name = e->d_name;
    if (std::strncmp(name, "actors-", 7) != 0)
      continue;
    char* end = nullptr;
    long pid = std::strtol(name + 7, &end, 10);
    if (pid <= 0 || end == name + 7 || *end != '-' || std::strlen(end + 1) != 6)
      continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)
      continue; // its process lives (or is not ours to judge)
    std::string dir = std::string("/tmp/") + name;
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != me)
      continue;
    remove_socket_dir(dir);
  }
  ::closedir(tmp);
}

namespace {
sockaddr_un unix_address(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    throw error(errc::bad_argument, "a Unix socket path must have 1 to "
                                      + std::to_string(sizeof addr.sun_path - 1)
                                      + " bytes; '" + path + "' has "
                                      + std::to_string(path.size()));
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  return addr;
}
} // namespace

unique_fd listen_unix(const std::string& path) {
  unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  auto addr = unix_address(path);
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0
      || ::listen(s.get(), 128) != 0)
    throw_errno("bind/listen on " + path);
  return s;
}

unique_fd accept_same_user(int listener, int& pid, const char* server) {
  for (;;) {
    unique_fd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd)
      return fd;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0
        && cred.uid == ::getuid()) {
      pid = cred.pid;
      return fd;
    }
    log::warning() << server << ": refused a connection from uid " << cred.uid;
  }
}

int peer_pid(int fd) noexcept {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return 0;
  return cred.pid;
}

unique_fd connect_unix(const std::string& path) {
  unique_fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto addr = unix_address(path);
  if (s && ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno; // for the caller's message
    s.reset();
    errno = e;
  }
  return s;
}

unique_fd memfd_of_size(const char* name, std::size_t size) {
  unique_fd fd(::memfd_create(name, MFD_CLOEXEC));
  if (!fd)
    throw_errno(std::string("memfd_create (") + name + ")");
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0)
    throw_errno(std::string("ftruncate (") + name + ")");
  return fd;
}

} // namespace actors::detail
