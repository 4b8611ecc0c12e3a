#pragma once
/// @file pipe.hpp
/// `actors::pipe<T>()`: Python's `multiprocessing.Pipe` with a message type.
/// Each end is a `connection<T>`. Messages are Cereal-encoded frames on a
/// Unix socket; an end can be passed to a child process as an argument, or
/// sent through another pipe to any local process.
///
/// @code
/// void child(actors::connection<std::string> out) { out.send("hello"); }
///
/// int main() {
///   actors::node node;
///   auto [parent_end, child_end] = actors::pipe<std::string>();
///   actors::process p(child, child_end);
///   p.start();
///   child_end.close();                       // ours; the child has a copy
///   std::cout << parent_end.recv() << '\n';  // hello
///   p.join();
/// }
/// @endcode

#include <actors/detail/channel.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace actors {

/// One end of a pipe carrying messages of type T.
///
/// - Blocks: send() while the socket buffer is full; recv() until a message
///   arrives or the other end closes.
/// - Throws: `eof_error` from recv() once the other end has closed or its
///   process died (never blocks forever); errc::broken_pipe from send() when
///   the other end is gone; errc::frame_too_large for a message over the cap
///   (nothing sent, the connection stays usable); errc::bad_frame when a
///   malformed frame arrives (this connection is closed, nothing else is
///   affected); errc::closed after close().
/// - Timeouts: recv(timeout) throws timeout_error, try_recv(timeout) returns
///   nullopt; both bound the wait for a message to begin.
/// - Thread-safety: one thread may send while another receives; copies share
///   the same end.
template <class T>
class connection {
public:
  static_assert(detail::is_serializable_v<T>,
                "actors::connection<T>: T is not serializable with Cereal. Give it a "
                "serialize(Archive&) member, or include the matching "
                "<cereal/types/...> header.");

  /// An end that is not connected; every call throws errc::closed.
  connection() = default;

  explicit connection(std::shared_ptr<detail::channel> ch) noexcept : ch_(std::move(ch)) {}

  /// Sends one message.
  void send(const T& value) {
    std::vector<int> fds;
    auto bytes = detail::encode(value, &fds);
    get().send(false, bytes, fds);
  }

  /// Receives one message; waits as long as it takes.
  T recv() { return *try_recv(forever); }

  /// Receives one message, or throws timeout_error after `timeout`.
  T recv(duration timeout) {
    if (auto v = try_recv(timeout))
      return std::move(*v);
    throw timeout_error("connection::recv: no message within the timeout");
  }

  /// Receives one message, or nullopt after `timeout` (default: don't wait).
  std::optional<T> try_recv(duration timeout = duration::zero()) {
    std::string bytes;
    std::vector<int> fds;
    if (!get().recv(bytes, fds, timeout))
      return std::nullopt;
    return detail::decode<T>(bytes, &fds);
  }

  /// Sends raw bytes, not encoded (Python's send_bytes).
  void send_bytes(std::string_view bytes) { get().send(true, bytes, {}); }

  /// Sends `size` bytes of `bytes` from `offset` (npos: all after it), as
  /// Python's send_bytes(buffer, offset, size). Throws errc::bad_argument
  /// (nothing sent) when the range runs past the end of `bytes`.
  void send_bytes(std::string_view bytes, std::size_t offset,
                  std::size_t size = std::string_view::npos) {
    if (offset > bytes.size())
      throw error(errc::bad_argument, "connection::send_bytes: offset "
                                        + std::to_string(offset) + " is past the end of a "
                                        + std::to_string(bytes.size()) + "-byte buffer");
    if (size != std::string_view::npos && size > bytes.size() - offset)
      throw error(errc::bad_argument,
                  "connection::send_bytes: offset " + std::to_string(offset) + " + size "
                    + std::to_string(size) + " is past the end of a "
                    + std::to_string(bytes.size()) + "-byte buffer");
    send_bytes(bytes.substr(offset, size));
  }

  /// Receives one message's bytes as they travelled (Python's recv_bytes).
  std::string recv_bytes(duration timeout = forever) {
    return recv_bytes(std::numeric_limits<std::size_t>::max(), timeout);
  }

  /// Python's recv_bytes(maxlength): receives one message's bytes if it has
  /// at most `maxlength` of them. A longer message is never held in memory:
  /// it is read past and dropped, and errc::message_too_long is thrown
  /// (Python: OSError "bad message length"). Unlike Python, the connection
  /// stays readable; the next message comes next. Throws timeout_error
  /// after `timeout`, as recv() otherwise.
  std::string recv_bytes(std::size_t maxlength, duration timeout = forever) {
    std::string bytes;
    std::vector<int> fds;
    if (!get().recv(bytes, fds, timeout, maxlength))
      throw timeout_error("connection::recv_bytes: no message within the timeout");
    detail::close_fds(fds); // a handle sent with send_handle() is not for us
    return bytes;
  }

  /// Sends a copy of descriptor `fd` to the process at the other end, which
  /// takes it with recv_handle() (Python's multiprocessing.reduction
  /// send_handle). `fd` stays open here. Throws errc::bad_argument if `fd`
  /// is not open, errc::broken_pipe if the other end is gone.
  void send_handle(int fd) {
    detail::check_open_fd(fd, "connection::send_handle");
    get().send(true, std::string_view(), {fd});
  }

  /// Receives a descriptor sent with send_handle(): a new descriptor in this
  /// process (close-on-exec), owned by the caller (Python's recv_handle).
  /// Throws timeout_error after `timeout`, errc::bad_payload if the message
  /// carries no descriptor (it was not sent with send_handle()).
  int recv_handle(duration timeout = forever) {
    std::string bytes;
    std::vector<int> fds;
    if (!get().recv(bytes, fds, timeout))
      throw timeout_error("connection::recv_handle: no message within the timeout");
    if (fds.size() != 1 || !bytes.empty()) {
      detail::close_fds(fds);
      throw error(errc::bad_payload, "connection::recv_handle: the message is not a "
                                     "descriptor sent with send_handle()");
    }
    return fds[0];
  }

  /// Receives one message's bytes into `buffer`, reusing its memory, and
  /// returns their count (Python's recv_bytes_into). For a stream of large
  /// messages this avoids faulting in a fresh buffer each time.
  std::size_t recv_bytes_into(std::string& buffer, duration timeout = forever) {
    std::vector<int> fds;
    if (!get().recv(buffer, fds, timeout))
      throw timeout_error("connection::recv_bytes_into: no message within the timeout");
    return buffer.size();
  }

  /// Python's recv_bytes_into(buffer, offset): receives one message's bytes
  /// into a fixed-size buffer from `offset` on, and returns their count.
  /// `buffer` is any contiguous container or array of a 1-byte type
  /// (std::vector<char>, std::array<std::uint8_t, N>, char[N], std::string);
  /// its size is not changed.
  /// - Throws errc::bad_argument (nothing received) if `offset` is past the
  ///   end of `buffer`; buffer_too_short if the message is longer than the
  ///   room after `offset`: the message is consumed and the exception's
  ///   bytes() holds it; timeout_error after `timeout`; as recv() otherwise.
  template <class Buffer>
  std::size_t recv_bytes_into(Buffer& buffer, std::size_t offset, duration timeout = forever) {
    using byte_t = std::remove_pointer_t<decltype(std::data(buffer))>;
    static_assert(sizeof(byte_t) == 1 && std::is_trivially_copyable_v<byte_t>
                    && !std::is_const_v<byte_t>,
                  "connection::recv_bytes_into(buffer, offset): buffer must be a writable "
                  "contiguous range of a 1-byte type, such as std::vector<char>");
    auto room = std::size(buffer);
    if (offset > room)
      throw error(errc::bad_argument, "connection::recv_bytes_into: offset "
                                        + std::to_string(offset) + " is past the end of a "
                                        + std::to_string(room) + "-byte buffer");
    std::string bytes;
    std::vector<int> fds;
    if (!get().recv(bytes, fds, timeout))
      throw timeout_error("connection::recv_bytes_into: no message within the timeout");
    if (bytes.size() > room - offset) {
      auto message = "connection::recv_bytes_into: a " + std::to_string(bytes.size())
                     + "-byte message does not fit the " + std::to_string(room - offset)
                     + " bytes after offset " + std::to_string(offset)
                     + "; it was received and is in the exception's bytes()";
      throw buffer_too_short(message, std::move(bytes));
    }
    if (!bytes.empty())
      std::memcpy(std::data(buffer) + offset, bytes.data(), bytes.size());
    return bytes.size();
  }

  /// True if a message (or EOF) is ready to be received within `timeout`.
  bool poll(duration timeout = duration::zero()) { return get().poll(timeout); }

  /// Closes this end (all copies of it). The other end sees EOF.
  void close() noexcept {
    if (ch_)
      ch_->close();
  }

  bool closed() const noexcept { return !ch_ || ch_->closed(); }
  bool readable() const noexcept { return ch_ && ch_->readable(); }
  bool writable() const noexcept { return ch_ && ch_->writable(); }

  /// The socket, for poll() or actors::wait(). Throws errc::closed.
  int fileno() const { return get().fd(); }

  template <class Archive>
  void save(Archive& ar) const {
    auto& ch = get();
    ar(ch.readable(), ch.writable(), detail::export_fd(ch.fd()));
  }

  template <class Archive>
  void load(Archive& ar) {
    bool r = false, w = false;
    std::uint32_t index = 0;
    ar(r, w, index);
    ch_ = std::make_shared<detail::channel>(detail::import_fd(index), r, w);
  }

private:
  detail::channel& get() const {
    if (!ch_)
      throw error(errc::closed, "this connection is not connected");
    return *ch_;
  }

  std::shared_ptr<detail::channel> ch_;
};

/// A connected pair of ends. Duplex: both send and receive. One-way
/// (`duplex = false`): the first end only receives, the second only sends.
/// Throws errc::system_error if the socket cannot be made.
template <class T>
std::pair<connection<T>, connection<T>> pipe(bool duplex = true) {
  auto [a, b] = detail::channel_pair(duplex);
  return {connection<T>(std::move(a)), connection<T>(std::move(b))};
}

} // namespace actors
