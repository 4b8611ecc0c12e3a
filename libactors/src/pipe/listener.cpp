// Listener and client: a Unix socket server that hands out channels, and the
// authkey handshake both ends run before a channel is given to the user.

#include <actors/detail/deadline.hpp>
#include <actors/future.hpp>
#include <actors/listener.hpp>

#include "base/fd.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace actors::detail {

namespace {

// The handshake: one side sends a challenge (tag and random nonce), the
// other answers with HMAC-SHA256(authkey, nonce), the first replies with a
// verdict. The listener challenges first, then the client challenges back,
// so each end knows the other has the key (Python's deliver_challenge and
// answer_challenge). Every message is one raw-bytes frame.
constexpr std::string_view challenge_tag = "#CHALLENGE#";
constexpr std::string_view welcome = "#WELCOME#";
constexpr std::string_view failure = "#FAILURE#";
constexpr std::size_t nonce_size = 32;

using clock = std::chrono::steady_clock;

std::string hmac_sha256(const std::string& key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), out,
            &size))
    throw error(errc::system_error, "HMAC-SHA256 failed in OpenSSL");
  return std::string(reinterpret_cast<const char*>(out), size);
}

// One handshake message; nullopt once `deadline` has passed.
std::optional<std::string> receive(channel& ch, clock::time_point deadline, const char* who) {
  std::string bytes;
  std::vector<int> fds;
  if (!ch.recv(bytes, fds, left_until(deadline)))
    return std::nullopt;
  if (!fds.empty()) {
    close_fds(fds);
    throw authentication_error(std::string(who)
                               + ": a descriptor arrived during the authentication handshake");
  }
  return bytes;
}

// Sends a challenge and checks the answer. False on timeout.
bool deliver_challenge(channel& ch, const std::string& key, clock::time_point deadline,
                       const char* who) {
  std::string nonce(nonce_size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), nonce_size) != 1)
    throw error(errc::system_error, "RAND_bytes failed in OpenSSL");
  ch.send(true, std::string(challenge_tag) + nonce, {});
  auto answer = receive(ch, deadline, who);
  if (!answer)
    return false;
  auto expected = hmac_sha256(key, nonce);
  if (answer->size() == expected.size()
      && CRYPTO_memcmp(answer->data(), expected.data(), expected.size()) == 0) {
    ch.send(true, welcome, {});
    return true;
  }
  try {
    ch.send(true, failure, {});
  } catch (const error&) { // the other end left already; the verdict stands
  }
  throw authentication_error(std::string(who)
                             + ": the other end answered the challenge with a different "
                               "authkey (or with none)");
}

// Answers the other end's challenge and reads its verdict. False on timeout.
bool answer_challenge(channel& ch, const std::string& key, clock::time_point deadline,
                      const char* who) {
  auto message = receive(ch, deadline, who);
  if (!message)
    return false;
  if (message->size() != challenge_tag.size() + nonce_size
      || message->compare(0, challenge_tag.size(), challenge_tag) != 0)
    throw authentication_error(std::string(who) + ": expected an authentication challenge but a "
                               + std::to_string(message->size())
                               + "-byte message came; does the other end use an authkey?");
  ch.send(true, hmac_sha256(key, std::string_view(*message).substr(challenge_tag.size())), {});
  auto verdict = receive(ch, deadline, who);
  if (!verdict)
    return false;
  if (*verdict != welcome)
    throw authentication_error(std::string(who)
                               + ": the other end rejected our answer: the authkeys differ");
  return true;
}

} // namespace

channel_listener::channel_listener(const std::string& address,
                                   std::optional<std::string> authkey)
  : authkey_(std::move(authkey)) {
  if (address.empty()) {
    dir_ = private_socket_dir();
    address_ = dir_ + "/listener.sock";
  } else {
    address_ = address;
  }
  try {
    wake_ = ::eventfd(0, EFD_CLOEXEC);
    if (wake_ < 0)
      throw_errno("eventfd (listener)");
    fd_ = listen_unix(address_).release();
  } catch (...) {
    if (wake_ >= 0)
      ::close(wake_);
    if (!dir_.empty())
      remove_socket_dir(dir_);
    throw;
  }
}

channel_listener::~channel_listener() {
  close();
  if (wake_ >= 0)
    ::close(wake_);
}

int channel_listener::fd() const {
  if (closed_)
    throw error(errc::closed, "the listener is closed");
  return fd_;
}

std::shared_ptr<channel> channel_listener::accept(duration timeout) {
  auto deadline = deadline_in(timeout);
  unique_fd fd;
  {
    std::shared_lock<std::shared_mutex> guard(fd_mtx_); // close() waits for us
    for (;;) {
      if (closed_)
        throw error(errc::closed, "listener::accept: the listener is closed");
      pollfd ready[2] = {{fd_, POLLIN, 0}, {wake_, POLLIN, 0}};
      if (poll_for(ready, 2, left_until(deadline)) == 0)
        return nullptr;
      if (closed_)
        throw error(errc::closed, "listener::accept: the listener was closed while waiting");
      int pid = 0;
      fd = accept_same_user(fd_, pid, "listener");
      if (fd)
        break; // else another thread took it, or a stranger was refused
    }
  }
  // The channel blocks in recvmsg() with SO_RCVTIMEO slices.
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    throw_errno("fcntl (accepted connection)");
  auto ch = std::make_shared<channel>(fd.release(), true, true);
  if (authkey_
      && !(deliver_challenge(*ch, *authkey_, deadline, "listener::accept")
           && answer_challenge(*ch, *authkey_, deadline, "listener::accept")))
    return nullptr; // the client was too slow; it is dropped with `ch`
  return ch;
}

void channel_listener::close() noexcept {
  if (closed_.exchange(true))
    return;
  std::uint64_t one = 1;
  if (wake_ >= 0)
    (void) !::write(wake_, &one, sizeof one);
  std::unique_lock<std::shared_mutex> guard(fd_mtx_); // accept() calls leave first
  ::close(std::exchange(fd_, -1));
  if (!dir_.empty())
    remove_socket_dir(dir_);
  else
    ::unlink(address_.c_str());
}

std::shared_ptr<channel> connect_channel(const std::string& address,
                                         const std::optional<std::string>& authkey,
                                         duration timeout) {
  auto deadline = deadline_in(timeout);
  auto fd = connect_unix(address);
  if (!fd)
    throw_errno("client: connect to " + address);
  auto ch = std::make_shared<channel>(fd.release(), true, true);
  if (authkey
      && !(answer_challenge(*ch, *authkey, deadline, "client")
           && deliver_challenge(*ch, *authkey, deadline, "client")))
    throw timeout_error("client: the authentication handshake with " + address
                        + " did not finish within the timeout");
  return ch;
}

} // namespace actors::detail
