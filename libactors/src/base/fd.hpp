#pragma once
// File-descriptor plumbing shared by the node, the fork server and processes.

#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <poll.h>
#include <string>
#include <utility>
#include <vector>

namespace actors::detail {

/// Owns one file descriptor; closes it on destruction.
class unique_fd {
public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~unique_fd() { reset(); }
  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

private:
  int fd_ = -1;
};

/// Throws actors::error(errc::system_error) naming `call` and errno.
[[noreturn]] void throw_errno(const std::string& call);

/// A new anonymous memfd of `size` zero bytes, named `name` in /proc (close
/// on exec). Throws errc::system_error.
unique_fd memfd_of_size(const char* name, std::size_t size);

/// A connected pair of Unix stream sockets, close-on-exec.
std::pair<unique_fd, unique_fd> socket_pair(int type);

/// Writes all of `data`; false if the peer is gone. Retries EINTR.
bool write_all(int fd, const void* data, std::size_t size) noexcept;

/// Reads exactly `size` bytes; false on EOF or error. Retries EINTR.
bool read_all(int fd, void* data, std::size_t size) noexcept;

/// poll() until one of `fds` has an event or `timeout` passes. Returns the
/// number of ready descriptors (0 on timeout). Retries EINTR; throws
/// errc::system_error if poll() fails.
int poll_for(pollfd* fds, std::size_t count, duration timeout);

/// Waits until `fd` is readable. Returns false on timeout. Retries EINTR.
bool wait_readable(int fd, duration timeout);

/// The calling thread's kernel id (gettid).
long current_tid() noexcept;

/// pidfd_open(2); -1 with errno on failure.
int pidfd_open(int pid) noexcept;

/// sendmsg() of `data` with `fds` attached (SCM_RIGHTS).
bool send_with_fds(int sock, const void* data, std::size_t size,
                   const std::vector<int>& fds) noexcept;

/// recvmsg() of up to `size` bytes and up to `max_fds` descriptors. Returns
/// the byte count (0 on EOF, -1 on error). EINTR is returned, not retried:
/// the caller knows its deadline (a retry here would restart a timed wait).
long recv_with_fds(int sock, void* data, std::size_t size,
                   std::vector<int>& fds, std::size_t max_fds, int flags = 0) noexcept;

/// A private directory for a server socket: /tmp/actors-<pid>-XXXXXX, mode 0700,
/// so only this user can reach what listens in it. Returns its path.
std::string private_socket_dir();

/// Removes a private socket directory and the sockets in it.
void remove_socket_dir(const std::string& dir) noexcept;

/// A server socket of one role of this process, listening (non-blocking)
/// at /tmp/actors-<pid>-XXXXXX/<role>.sock in a private directory of its
/// own (private_socket_dir()). Each role has its own socket name, so
/// actors-top tells a node's control endpoint ("node") from the transport
/// ("actors"), a manager ("manager") or a Listener ("listener"). The one way
/// every server of the library makes, and removes, its socket.
class private_server {
public:
  /// Throws errc::system_error if the directory or socket cannot be made.
  explicit private_server(const char* role);
  private_server(const private_server&) = delete;
  private_server& operator=(const private_server&) = delete;
  /// Closes the socket and removes it with its directory (close()).
  ~private_server();

  int fd() const noexcept { return fd_.get(); }
  const std::string& path() const noexcept { return path_; }
  const std::string& dir() const noexcept { return dir_; }

  /// Closes the socket, then removes it and its directory. Idempotent.
  void close() noexcept;
  /// In a fork child: closes the inherited socket and leaves the files,
  /// which belong to the parent. Idempotent.
  void forget() noexcept;

private:
  std::string dir_, path_; // kept after close(): the name stays readable
  unique_fd fd_;
  bool owned_ = true;      // the files are still there for close() to remove
};

/// Removes this user's socket directories whose process is gone: left when
/// a whole process group was SIGKILLed, fork server included. Run by each
/// new fork server, off the node's path.
void remove_stale_socket_dirs() noexcept;

/// A non-blocking Unix stream socket listening at `path`. Throws
/// errc::bad_argument if `path` does not fit a socket address,
/// errc::system_error if it cannot be bound.
unique_fd listen_unix(const std::string& path);

/// Accepts one pending connection (non-blocking, close-on-exec) from a
/// process of this user; others are refused with a warning naming `server`.
/// Returns an invalid fd when none is pending; `pid` is the peer's.
unique_fd accept_same_user(int listener, int& pid, const char* server);

/// A blocking connection to the Unix socket at `path`; invalid on failure,
/// with errno set. Throws errc::bad_argument if `path` does not fit.
unique_fd connect_unix(const std::string& path);

/// The pid of the process at the other end of the Unix socket `fd`
/// (SO_PEERCRED); 0 if it cannot be read.
int peer_pid(int fd) noexcept;

} // namespace actors::detail
