#include <actors/detail/channel.hpp>
#include <actors/detail/deadline.hpp>
#include <actors/detail/room.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "io/frame.hpp"
#include "runtime/node_hooks.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <poll.h>
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
  : fd_(fd), readable_(readable), writable_(writable) {
  // A fork child closes the channels it inherited (runtime/node_hooks.hpp).
  static const bool hooked = [] {
    node_hooks hooks;
    hooks.drop_inherited = &drop_inherited_channels;
    add_node_hooks(hooks);
    return true;
  }();
  (void) hooked;
  std::lock_guard<std::mutex> guard(registry_mtx);
  registry.insert(this);
}

void drop_inherited_channels() noexcept {
  // Runs right after fork(): no other thread exists, so no lock is taken (one
  // could be held forever by a thread that did not survive the fork).
  for (auto* ch : registry) {
    if (ch->fd_ >= 0)
      ::close(ch->fd_);
    ch->fd_ = -1;
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

void channel::set_slice(std::chrono::microseconds slice) {
  if (slice == slice_)
    return;
  timeval tv{static_cast<time_t>(slice.count() / 1'000'000),
             static_cast<suseconds_t>(slice.count() % 1'000'000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  slice_ = slice;
}

// Blocks in recvmsg() itself, not in poll(): on this VM a reader asleep in
// read is woken measurably faster than one asleep in poll. SO_RCVTIMEO cuts
// the wait into slices of at most 100 ms, so a timeout is honoured and a
// close() from another thread is noticed within one slice.
bool channel::recv(std::string& payload, std::vector<int>& fds, duration timeout,
                   std::size_t limit) {
  using namespace std::chrono;
  if (!readable_)
    throw error(errc::bad_argument, "this end of a one-way pipe only sends");
  std::lock_guard<std::mutex> guard(recv_mtx_);
  int fd = this->fd();
  auto start = steady_clock::now();
  auto left = [&]() -> duration {
    if (timeout == forever)
      return forever;
    auto spent = steady_clock::now() - start;
    return spent >= timeout ? duration::zero() : timeout - spent;
  };
  constexpr microseconds longest_slice = recheck_slice;
  std::string why;
  char head[frame_header_size];
  std::size_t got = 0;
  while (got < sizeof head) {
    if (closed_)
      throw error(errc::closed, "this connection was closed while receiving");
    auto remaining = left();
    bool dont_wait = got == 0 && remaining == duration::zero();
    if (!dont_wait)
      set_slice(got > 0 || remaining == forever
                  ? longest_slice
                  : std::clamp(ceil<microseconds>(remaining), microseconds(1), longest_slice));
    long n = recv_with_fds(fd, head + got, sizeof head - got, fds, max_frame_fds,
                           dont_wait ? MSG_DONTWAIT : 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (got == 0 && left() == duration::zero())
        return false;
      continue;
    }
    if (closed_)
      throw error(errc::closed, "this connection was closed while receiving");
    if (got > 0)
      throw eof_error("the peer closed the connection inside a frame header");
    if (n == 0)
      throw eof_error("the other end of the connection closed");
    throw_errno("recvmsg");
  }
  auto h = parse_header(head, frame_cap(), why);
  if (h && h->fds != fds.size()) {
    why = "frame announced " + std::to_string(h->fds) + " descriptors but "
          + std::to_string(fds.size()) + " arrived";
    h.reset();
  }
  if (!h) {
    for (int f : fds)
      ::close(f);
    fds.clear();
    log::error() << "closing a connection after a bad frame: " << why;
    if (!closed_.exchange(true)) { // close(), but we hold recv_mtx_ already
      std::lock_guard<std::mutex> sending(send_mtx_);
      ::close(std::exchange(fd_, -1));
    }
    throw error(errc::bad_frame, why + "; the connection was closed");
  }
  std::size_t have = 0;
  auto read_payload = [&](char* out, std::size_t size) { // the frame has begun: read it whole
    for (std::size_t done = 0; done < size;) {
      set_slice(longest_slice);
      auto n = ::read(fd, out + done, size - done);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        have += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && !closed_)
        continue;
      if (closed_)
        throw error(errc::closed, "this connection was closed while receiving");
      throw eof_error("the peer closed the connection after " + std::to_string(have) + " of "
                      + std::to_string(h->size) + " payload bytes");
    }
  };
  if (h->size > limit) { // read past it in small pieces, never holding it whole
    close_fds(fds);
    std::string scratch(std::min<std::size_t>(h->size, 64 * 1024), '\0');
    while (have < h->size)
      read_payload(scratch.data(), std::min(scratch.size(), h->size - have));
    throw error(errc::message_too_long,
                "a " + std::to_string(h->size) + "-byte message is longer than maxlength "
                  + std::to_string(limit)
                  + "; it was dropped, and the connection stays usable");
  }
  if (h->size > payload.size()) // huge pages for a large one, before resize() writes it
    reserve_room(payload, h->size - payload.size());
  payload.resize(h->size);
  read_payload(payload.data(), h->size);
  return true;
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
  // A thread blocked in recv() sees closed_ within one receive slice.
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

void check_open_fd(int fd, const char* call) {
  if (fd < 0 || ::fcntl(fd, F_GETFD) == -1)
    throw error(errc::bad_argument,
                std::string(call) + ": " + std::to_string(fd) + " is not an open descriptor");
}

void close_fds(std::vector<int>& fds) noexcept {
  for (int fd : fds)
    if (fd >= 0)
      ::close(fd);
  fds.clear();
}

std::uint32_t export_fd(int fd) {
  auto* out = outgoing_fds();
  if (!out)
    throw error(errc::bad_argument,
                "it carries a descriptor, which travels "
                "only in the start arguments of a process or actor on this host, or "
                "through a pipe: never to another host of a cluster (descriptors and shared "
                "memory stay on their host; a lock, semaphore or event given to an actor on "
                "another host goes through a coordinator instead), nor in a pool task "
                "(encoded once, for whichever worker runs it: give it to every worker "
                "through pool_options::initializer), an actor message on this host or a "
                "queue item");
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
