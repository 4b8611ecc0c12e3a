#include <actors/detail/channel.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "frame.hpp"

#include <cerrno>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unordered_set>
#include <unistd.h>

namespace actors::detail {

namespace {

// Every channel alive in this process, for drop_inherited_channels().
std::mutex registry_mtx;
std::unordered_set<channel*> registry;

} // namespace

channel::channel(int fd, bool readable, bool writable) noexcept
  : fd_(fd), wake_(::eventfd(0, EFD_CLOEXEC)), readable_(readable), writable_(writable) {
  std::lock_guard<std::mutex> guard(registry_mtx);
  registry.insert(this);
}

void drop_inherited_channels() noexcept {
  // Runs right after fork(): no other thread exists, so no lock is taken (one
  // could be held forever by a thread that did not survive the fork).
  for (auto* ch : registry) {
    if (ch->fd_ >= 0)
      ::close(ch->fd_);
    if (ch->wake_ >= 0)
      ::close(ch->wake_);
    ch->fd_ = -1;
    ch->wake_ = -1;
    ch->closed_ = true;
  }
}

channel::~channel() {
  {
    std::lock_guard<std::mutex> guard(registry_mtx);
    registry.erase(this);
  }
  if (fd_ >= 0)
    ::close(fd_);
  if (wake_ >= 0)
    ::close(wake_);
}

int channel::fd() const {
  if (closed_)
    throw error(errc::closed, "this connection is closed");
  return fd_;
}

void channel::send(bool raw_bytes, std::string_view payload, const std::vector<int>& fds) {
  if (!writable_)
    throw error(errc::bad_argument, "this end of a one-way pipe only receives");
  if (payload.size() > frame_cap())
    throw error(errc::frame_too_large,
                "message of " + std::to_string(payload.size()) + " bytes is over the cap of "
                  + std::to_string(frame_cap())
                  + " bytes; nothing was sent (raise it with actors::set_max_frame_size)");
  std::lock_guard<std::mutex> guard(send_mtx_);
  int fd = this->fd();
  if (!send_frame(fd, raw_bytes ? frame_kind::bytes : frame_kind::object, payload.data(),
                  payload.size(), fds)) {
    if (errno == EPIPE || errno == ECONNRESET)
      throw error(errc::broken_pipe, "the other end of the connection is gone");
    throw_errno("send");
  }
}

bool channel::recv(std::string& payload, std::vector<int>& fds, duration timeout) {
  if (!readable_)
    throw error(errc::bad_argument, "this end of a one-way pipe only sends");
  std::lock_guard<std::mutex> guard(recv_mtx_);
  int fd = this->fd();
  // Wait for the frame to begin, or for close() from another thread.
  pollfd p[2] = {{fd, POLLIN, 0}, {wake_, POLLIN, 0}};
  if (poll_for(p, wake_ >= 0 ? 2 : 1, timeout) == 0)
    return false;
  if (closed_)
    throw error(errc::closed, "this connection was closed while receiving");
  frame_header header;
  std::string why;
  auto status = recv_frame(fd, header, payload, fds, forever, why);
  switch (status) {
    case recv_status::ok:
      if (header.fds != fds.size()) {
        for (int f : fds)
          ::close(f);
        fds.clear();
        why = "frame announced " + std::to_string(header.fds) + " descriptors but "
              + std::to_string(fds.size()) + " arrived";
        break;
      }
      return true;
    case recv_status::timeout:
      return false;
    case recv_status::eof:
      if (closed_)
        throw error(errc::closed, "this connection was closed while receiving");
      throw eof_error("the other end of the connection closed");
    case recv_status::truncated:
      throw eof_error(why);
    case recv_status::bad_frame:
      break;
  }
  log::error() << "closing a connection after a bad frame: " << why;
  if (!closed_.exchange(true)) { // close(), but we hold recv_mtx_ already
    std::lock_guard<std::mutex> sending(send_mtx_);
    ::close(std::exchange(fd_, -1));
  }
  throw error(errc::bad_frame, why + "; the connection was closed");
}

bool channel::poll(duration timeout) {
  if (!readable_)
    throw error(errc::bad_argument, "this end of a one-way pipe only sends");
  return wait_readable(fd(), timeout);
}

void channel::close() noexcept {
  if (closed_.exchange(true))
    return;
  // Not shutdown(): that would cut the socket for every process holding it.
  std::uint64_t one = 1;
  if (wake_ >= 0)
    (void) !::write(wake_, &one, sizeof one);
  std::scoped_lock guard(send_mtx_, recv_mtx_); // in-flight calls finish first
  ::close(fd_);
  fd_ = -1;
}

std::pair<std::shared_ptr<channel>, std::shared_ptr<channel>> channel_pair(bool duplex) {
  auto [a, b] = socket_pair(SOCK_STREAM);
  auto first = std::make_shared<channel>(a.release(), true, duplex);
  auto second = std::make_shared<channel>(b.release(), duplex, true);
  return {first, second};
}

std::uint32_t export_fd(int fd) {
  auto* out = outgoing_fds();
  if (!out)
    throw error(errc::bad_argument,
                "a pipe end can only be encoded to travel to another process");
  out->push_back(fd);
  return static_cast<std::uint32_t>(out->size() - 1);
}

int import_fd(std::uint32_t index) {
  auto* in = incoming_fds();
  if (!in || index >= in->size() || (*in)[index] < 0)
    throw error(errc::bad_payload, "a message refers to a descriptor that did not arrive");
  return std::exchange((*in)[index], -1);
}

} // namespace actors::detail
