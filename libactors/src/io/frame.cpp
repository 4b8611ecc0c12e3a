#include "io/frame.hpp"

#include <actors/detail/room.hpp>

#include <atomic>
#include <cerrno>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace actors::detail {

namespace {
std::atomic<std::size_t> cap{default_frame_cap};
} // namespace

std::size_t frame_cap() noexcept {
  return cap.load();
}

void set_frame_cap(std::size_t bytes) noexcept {
  cap.store(bytes);
}

void put_header(char* out, const frame_header& h) noexcept {
  out[0] = static_cast<char>(h.size);
  out[1] = static_cast<char>(h.size >> 8);
  out[2] = static_cast<char>(h.size >> 16);
  out[3] = static_cast<char>(h.size >> 24);
  out[4] = static_cast<char>(h.fds);
  out[5] = static_cast<char>(h.fds >> 8);
  out[6] = static_cast<char>(h.kind);
  out[7] = static_cast<char>(frame_magic);
}

std::optional<frame_header> parse_header(const char* in, std::size_t max, std::string& why) {
  auto b = [in](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])); };
  if (b(7) != frame_magic) {
    why = "not a libactors frame (bad magic byte)";
    return std::nullopt;
  }
  frame_header h;
  h.size = b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
  h.fds = static_cast<std::uint16_t>(b(4) | (b(5) << 8));
  auto kind = b(6);
  if (kind < 1 || kind > 3) {
    why = "unknown frame kind " + std::to_string(kind);
    return std::nullopt;
  }
  h.kind = static_cast<frame_kind>(kind);
  if (h.fds > max_frame_fds) {
    why = "frame claims " + std::to_string(h.fds) + " descriptors (at most "
          + std::to_string(max_frame_fds) + ")";
    return std::nullopt;
  }
  if (h.size > max) {
    why = "frame of " + std::to_string(h.size) + " bytes is over the cap of "
          + std::to_string(max) + " bytes (actors::set_max_frame_size)";
    return std::nullopt;
  }
  return h;
}

bool send_frame(int sock, frame_kind kind, const char* data, std::size_t size,
                const std::vector<int>& fds) noexcept {
  char head[frame_header_size];
  put_header(head, {static_cast<std::uint32_t>(size), static_cast<std::uint16_t>(fds.size()), kind});
  if (!fds.empty())
    return send_with_fds(sock, head, sizeof head, fds) && write_all(sock, data, size);
  // One sendmsg for header and payload: a small message is one syscall.
  iovec iov[2] = {{head, sizeof head}, {const_cast<char*>(data), size}};
  return send_all(sock, iov, 2);
}

bool send_all(int sock, iovec* v, std::size_t count) noexcept {
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = v;
    msg.msg_iovlen = count;
    auto n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    auto left = static_cast<std::size_t>(n);
    while (count > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --count;
    }
    if (count > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }
  return true;
}

bool send_or_keep(int sock, const iovec* v, std::size_t count, std::string& rest) {
  std::size_t sent = 0;
  for (;;) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(v);
    msg.msg_iovlen = count;
    auto n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent = static_cast<std::size_t>(n);
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    if (errno != EINTR)
      return false;
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (sent >= v[i].iov_len) {
      sent -= v[i].iov_len;
      continue;
    }
    rest.append(static_cast<const char*>(v[i].iov_base) + sent, v[i].iov_len - sent);
    sent = 0;
  }
  return true;
}

recv_status recv_frame(int sock, frame_header& header, std::string& payload,
                       std::vector<int>& fds, duration timeout, std::string& why) {
  if (timeout != forever && !wait_readable(sock, timeout))
    return recv_status::timeout;
  char head[frame_header_size];
  std::size_t got = 0;
  while (got < sizeof head) {
    long n = recv_with_fds(sock, head + got, sizeof head - got, fds, max_frame_fds);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (got == 0)
        return recv_status::eof;
      why = "the peer closed the connection inside a frame header";
      return recv_status::truncated;
    }
    got += static_cast<std::size_t>(n);
  }
  auto h = parse_header(head, frame_cap(), why);
  if (!h)
    return recv_status::bad_frame;
  header = *h;
  if (header.size > payload.size()) // before resize() writes the pages
    reserve_room(payload, header.size - payload.size());
  payload.resize(header.size);
  std::size_t have = 0;
  while (have < header.size) {
    auto n = ::read(sock, payload.data() + have, header.size - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      why = "the peer closed the connection after " + std::to_string(have) + " of "
            + std::to_string(header.size) + " payload bytes";
      return recv_status::truncated;
    }
    have += static_cast<std::size_t>(n);
  }
  return recv_status::ok;
}

} // namespace actors::detail
