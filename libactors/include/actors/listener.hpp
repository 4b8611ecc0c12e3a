#pragma once
/// @file listener.hpp
/// `actors::listener<T>` and `actors::client<T>()`: Python's
/// `multiprocessing.connection.Listener` and `Client`. A listener waits on a
/// Unix socket path; any process that knows the path (and the authkey, if
/// one is set) connects to it, and both ends get a `connection<T>`, the same
/// type as a pipe's end. The processes need not be related.
///
/// With an authkey, each end proves to the other that it knows the key
/// before anything else is sent: a challenge of 32 random bytes, answered
/// with their HMAC-SHA256 under the key, in both directions (Python's
/// deliver_challenge / answer_challenge). The key itself never travels. A
/// wrong key fails both ends with `authentication_error`.
///
/// @code
/// void worker(std::string address) {
///   auto c = actors::client<std::string>(address, "secret");
///   c.send("hello");
/// }
///
/// int main() {
///   actors::node node;
///   actors::listener<std::string> server("", "secret");  // a private path
///   actors::process p(worker, server.address());
///   p.start();
///   auto c = server.accept(10s);
///   std::cout << c.recv() << '\n';                         // hello
///   p.join();
/// }
/// @endcode

#include <actors/detail/channel.hpp>
#include <actors/errors.hpp>
#include <actors/pipe.hpp>
#include <actors/time.hpp>

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <optional>
#include <string>
#include <utility>

namespace actors {

namespace detail {

/// The untyped half of a listener: a Unix socket server that hands out
/// channels, after the authkey handshake. Internal; use actors::listener<T>.
class channel_listener {
public:
  /// Listens at `address`, or at a fresh path in a private directory if it
  /// is empty. Throws errc::bad_argument (path too long), errc::system_error.
  channel_listener(const std::string& address, std::optional<std::string> authkey);
  ~channel_listener();
  channel_listener(const channel_listener&) = delete;
  channel_listener& operator=(const channel_listener&) = delete;

  /// One authenticated channel, or nullptr once `timeout` has passed.
  /// Throws errc::closed, authentication_error, eof_error.
  std::shared_ptr<channel> accept(duration timeout);

  /// Stops listening and removes the socket file; wakes accept(). Idempotent.
  void close() noexcept;

  bool closed() const noexcept { return closed_.load(); }
  const std::string& address() const noexcept { return address_; }
  /// The listening socket; throws errc::closed.
  int fd() const;

private:
  std::string dir_; // the private directory made for an empty address
  std::string address_;
  std::optional<std::string> authkey_;
  int fd_ = -1;
  int wake_ = -1; // eventfd: close() wakes a thread blocked in accept()
  std::atomic<bool> closed_{false};
  std::shared_mutex fd_mtx_; // accept() shares it; close() takes it alone
};

/// Connects to the listener at `address` and, with an authkey, runs the
/// handshake; both within `timeout`. Throws errc::system_error (nothing
/// listens there), authentication_error, eof_error, timeout_error.
std::shared_ptr<channel> connect_channel(const std::string& address,
                                         const std::optional<std::string>& authkey,
                                         duration timeout);

} // namespace detail

/// A server socket that accepts connections carrying messages of type T
/// (Python's `multiprocessing.connection.Listener`).
///
/// - Address: a Unix socket path. An empty address picks a fresh path in a
///   private directory (mode 0700) under /tmp; address() tells it. The
///   socket file is removed by close() and by the destructor. Only processes
///   of the same user are accepted; others are refused and logged.
/// - Authkey: if set, accept() runs the challenge-response handshake with
///   each client; an empty string is a key too. Without one, any client of
///   the same user is accepted as it is, as in Python.
/// - Blocks: accept() until a client has connected and, with an authkey,
///   passed the handshake.
/// - Throws: the constructor errc::bad_argument if the path does not fit a
///   Unix socket address (107 bytes), errc::system_error if it cannot be
///   bound (e.g. the file exists: "Address already in use"). accept() throws
///   authentication_error when a client answers the challenge wrongly or
///   rejects ours (that client is dropped; the listener stays usable),
///   eof_error when a client leaves during the handshake, errc::closed after
///   close().
/// - Timeouts: accept(timeout) throws timeout_error, try_accept(timeout)
///   returns nullopt; the timeout bounds the wait for a client and its
///   handshake together.
/// - Thread-safety: several threads may accept at once; close() from
///   another thread wakes them with errc::closed. Copies share one socket.
template <class T>
class listener {
public:
  static_assert(detail::is_serializable_v<T>,
                "actors::listener<T>: T is not serializable with Cereal. Give it a "
                "serialize(Archive&) member, or include the matching "
                "<cereal/types/...> header.");

  /// Listens at `address` (empty: a fresh private path), checking clients
  /// against `authkey` if one is given.
  explicit listener(const std::string& address = {},
                    std::optional<std::string> authkey = std::nullopt)
    : l_(std::make_shared<detail::channel_listener>(address, std::move(authkey))) {}

  /// The next client's connection; waits as long as it takes.
  connection<T> accept() { return *try_accept(forever); }

  /// The next client's connection, or timeout_error after `timeout`.
  connection<T> accept(duration timeout) {
    if (auto c = try_accept(timeout))
      return std::move(*c);
    throw timeout_error("listener::accept: no client within the timeout");
  }

  /// The next client's connection, or nullopt after `timeout` (default:
  /// only a client that is already waiting).
  std::optional<connection<T>> try_accept(duration timeout = duration::zero()) {
    if (auto ch = l_->accept(timeout))
      return connection<T>(std::move(ch));
    return std::nullopt;
  }

  /// Stops listening and removes the socket file. Connections already
  /// accepted stay open. Idempotent; never throws.
  void close() noexcept { l_->close(); }

  bool closed() const noexcept { return l_->closed(); }

  /// The socket path clients connect to (Python's `address`).
  const std::string& address() const noexcept { return l_->address(); }

  /// The listening socket, for poll() or actors::wait(): readable when a
  /// client is waiting. Throws errc::closed.
  int fileno() const { return l_->fd(); }

private:
  std::shared_ptr<detail::channel_listener> l_;
};

/// Connects to the listener at `address` (Python's
/// `multiprocessing.connection.Client`).
/// - Blocks: until the listener has accepted and, with an authkey, the
///   handshake is done; that needs the other side to be in accept().
/// - Throws: errc::system_error if nothing listens at `address`;
///   authentication_error if the keys differ or the listener does not
///   authenticate the way `authkey` expects; eof_error if the listener drops
///   the connection during the handshake; timeout_error if the handshake
///   has not finished after `timeout` (connecting itself waits only while
///   the listener's backlog of 128 pending clients is full).
/// - `authkey` must be given exactly when the listener has one: a client
///   without a key to a listener with one fails the listener's accept(); a
///   client with a key to a listener without one waits for a challenge that
///   never comes, until `timeout`.
/// - Thread-safe.
template <class T>
connection<T> client(const std::string& address,
                     const std::optional<std::string>& authkey = std::nullopt,
                     duration timeout = forever) {
  return connection<T>(detail::connect_channel(address, authkey, timeout));
}

} // namespace actors
