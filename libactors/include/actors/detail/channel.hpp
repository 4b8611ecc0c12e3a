#pragma once
// The untyped half of a pipe end: one socket, whole frames in and out, with
// descriptors attached. Internal; use actors::connection<T>.

#include <actors/time.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace actors::detail {


class channel {
public:
  /// Owns `fd` from now on.
  channel(int fd, bool readable, bool writable) noexcept;
  ~channel();
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  /// Sends one frame. Throws errc::frame_too_large (nothing sent),
  /// errc::broken_pipe, errc::closed, errc::bad_argument (read-only end).
  void send(bool raw_bytes, std::string_view payload, const std::vector<int>& fds);

  /// Receives one frame into `payload` (its capacity is reused); false on
  /// timeout. Throws eof_error, errc::bad_frame
  /// (the connection is then closed), errc::closed, errc::bad_argument;
  /// errc::message_too_long for a frame over `limit` bytes, after reading
  /// past it (its descriptors closed) so the connection stays usable.
  bool recv(std::string& payload, std::vector<int>& fds, duration timeout,
            std::size_t limit = std::numeric_limits<std::size_t>::max());

  /// True if a frame (or EOF) is waiting.
  bool poll(duration timeout);

  /// Closes the socket; a thread blocked in recv() throws errc::closed
  /// within one receive slice (100 ms at most). Idempotent.
  void close() noexcept;

  bool closed() const noexcept { return closed_.load(); }
  bool readable() const noexcept { return readable_; }
  bool writable() const noexcept { return writable_; }
  /// The socket; throws errc::closed.
  int fd() const;

  /// In a fork()ed child: closes every channel inherited from the parent, so
  /// only the ends passed as arguments (which arrive as new descriptors) stay
  /// open there, and EOF works as it does across a fork server.
  friend void drop_inherited_channels() noexcept;

private:
  /// Sets SO_RCVTIMEO unless it is set to `slice` already.
  void set_slice(std::chrono::microseconds slice);

  int fd_;
  std::chrono::microseconds slice_{-1}; // SO_RCVTIMEO in force
  bool readable_;
  bool writable_;
  std::atomic<bool> closed_{false};
  std::mutex send_mtx_;
  std::mutex recv_mtx_;
};

void drop_inherited_channels() noexcept;

/// Two connected channels (socketpair). One-way: the first only receives,
/// the second only sends, as Python's Pipe(duplex=False).
std::pair<std::shared_ptr<channel>, std::shared_ptr<channel>> channel_pair(bool duplex);

/// Throws errc::bad_argument naming `call` unless `fd` is an open descriptor.
void check_open_fd(int fd, const char* call);

/// Closes every descriptor in `fds` and empties it.
void close_fds(std::vector<int>& fds) noexcept;

/// While encoding for another process: records `fd` to travel along and
/// returns its index. Throws errc::bad_argument outside such an encoding.
std::uint32_t export_fd(int fd);

/// While decoding: takes ownership of received descriptor `index`. Throws
/// errc::bad_payload if there is none.
int import_fd(std::uint32_t index);

} // namespace actors::detail
