#pragma once
// Buffered frame I/O for long-lived connections: the one incremental frame
// reader (an input buffer and each_frame, used by the transport's loops, the
// queue server, the pool's supervisor and workers and the manager; fed
// arbitrary bytes by the fuzz target), and an output box that packs small
// frames and sends large bodies without copies. Every frame's payload starts
// with one code byte. Never installed.

#include "io/frame.hpp"

#include <actors/detail/room.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace actors::detail {

/// Appends a fixed-size number to a message.
template <class T>
void put(std::string& out, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  out.append(b, sizeof v);
}

/// Reads a fixed-size number and advances; the caller checks the length.
template <class T>
T take(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}

// Bytes read from a socket and not parsed yet. Unlike a std::string it does
// not zero-fill the room it reads into, and it makes room for a whole frame
// once its header is known.
class inbuf {
public:
  const char* data() const noexcept { return buf_.get() + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_)
      begin_ = end_ = 0;
  }

  // One read(2) into the free room. False on EOF or error (errno tells;
  // EAGAIN on a non-blocking socket with nothing to read).
  bool read_from(int fd) {
    std::size_t want = 64 * 1024;
    std::string why;
    if (size() >= frame_header_size)
      if (auto h = parse_header(data(), frame_cap(), why))
        want = std::max<std::size_t>(want, frame_header_size + h->size - std::min<std::size_t>(
                                                                            size(), frame_header_size + h->size));
    reserve(want);
    for (;;) {
      errno = 0;
      auto n = ::read(fd, buf_.get() + end_, cap_ - end_);
      if (n < 0 && errno == EINTR)
        continue;
      if (n > 0)
        end_ += static_cast<std::size_t>(n);
      return n > 0;
    }
  }

  // Reads what a non-blocking socket holds now: until a read comes back
  // short or would block. False on EOF or an error (errno tells); true with
  // errno EAGAIN once it is drained.
  bool read_available(int fd) {
    for (;;) {
      if (!read_from(fd))
        return errno == EAGAIN || errno == EWOULDBLOCK;
      if (end_ < cap_) { // a short read: the socket is empty for now
        errno = EAGAIN;
        return true;
      }
    }
  }

private:
  void reserve(std::size_t want) {
    if (cap_ - end_ >= want)
      return;
    auto live = size();
    if (cap_ - live >= want && begin_ > 0) {
      std::memmove(buf_.get(), data(), live);
    } else {
      auto cap = std::max(2 * cap_, live + want);
      std::unique_ptr<char[]> bigger(new char[cap]);
      advise_huge_pages(bigger.get(), cap); // a large frame: before read() writes it
      if (live > 0)
        std::memcpy(bigger.get(), data(), live);
      buf_ = std::move(bigger);
      cap_ = cap;
    }
    begin_ = 0;
    end_ = live;
  }

  std::unique_ptr<char[]> buf_;
  std::size_t begin_ = 0, end_ = 0, cap_ = 0;
};

// Frames waiting to be written. Small frames are packed together; a large
// body is kept as its own piece (moved in, not copied) and all go out with
// one sendmsg of many pieces.
class outbox {
public:
  void frame(std::uint8_t code, const std::string& head, const std::string& body) {
    put_head(code, head, body.size());
    small(body.data(), body.size());
  }
  // A body shared with the job that may be sent again: not copied if large.
  void frame(std::uint8_t code, const std::string& head, std::shared_ptr<const std::string> body) {
    put_head(code, head, body->size());
    if (body->size() <= 16 * 1024) {
      small(body->data(), body->size());
      return;
    }
    bytes_ += body->size();
    pieces_.push_back({{}, std::move(body)});
    packable_ = false;
  }

  bool empty() const noexcept { return pieces_.empty(); }
  std::size_t bytes() const noexcept { return bytes_; }

  // Writes what the socket takes: everything, on a blocking socket. False
  // if the peer is gone.
  bool send(int fd) {
    while (!pieces_.empty()) {
      iovec iov[64];
      std::size_t n = 0;
      for (auto it = pieces_.begin(); it != pieces_.end() && n < 64; ++it, ++n) {
        std::size_t skip = n == 0 ? offset_ : 0;
        auto& b = it->bytes();
        iov[n] = {const_cast<char*>(b.data()) + skip, b.size() - skip};
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = n;
      auto sent = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR)
        continue;
      if (sent < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK;
      bytes_ -= static_cast<std::size_t>(sent);
      auto left = static_cast<std::size_t>(sent);
      while (left > 0) {
        auto room = pieces_.front().bytes().size() - offset_;
        if (left < room) {
          offset_ += left;
          break;
        }
        left -= room;
        pieces_.pop_front();
        offset_ = 0;
      }
      if (pieces_.empty())
        packable_ = false;
    }
    return true;
  }

private:
  struct piece {
    std::string own;
    std::shared_ptr<const std::string> shared;
    const std::string& bytes() const noexcept { return shared ? *shared : own; }
  };

  void put_head(std::uint8_t code, const std::string& head, std::size_t body_size) {
    char h[frame_header_size + 1];
    put_header(h, {static_cast<std::uint32_t>(1 + head.size() + body_size), 0,
                   frame_kind::object});
    h[frame_header_size] = static_cast<char>(code);
    small(h, sizeof h);
    small(head.data(), head.size());
  }

  void small(const char* p, std::size_t n) {
    if (n == 0)
      return;
    if (!packable_ || pieces_.back().own.size() + n > 64 * 1024) {
      pieces_.emplace_back();
      packable_ = true;
    }
    pieces_.back().own.append(p, n);
    bytes_ += n;
  }

  std::deque<piece> pieces_;
  std::size_t offset_ = 0; // sent part of the front piece
  std::size_t bytes_ = 0;
  bool packable_ = false;  // the last piece takes small frames
};

// Why each_frame stopped: every complete frame was handled (`more`: wait
// for bytes), a frame was malformed (`bad`, with `why`), or fn refused one.
enum class frames_status { more, bad, refused };

// The complete frames at the front of `in`: calls fn(payload, size) for each
// and consumes it; fn returns false to refuse one, which stays in `in`. A frame must be a
// non-empty object frame without descriptors: these connections carry none.
// fn must not destroy `in`.
template <class Fn>
frames_status each_frame(inbuf& in, Fn&& fn, std::string& why) {
  while (in.size() >= frame_header_size) {
    auto h = parse_header(in.data(), frame_cap(), why);
    if (!h)
      return frames_status::bad;
    if (h->fds != 0 || h->kind != frame_kind::object || h->size == 0) {
      why = h->size == 0 ? "an empty frame" : "a frame with descriptors or of another kind";
      return frames_status::bad;
    }
    if (in.size() - frame_header_size < h->size)
      return frames_status::more;
    if (!fn(in.data() + frame_header_size, static_cast<std::size_t>(h->size)))
      return frames_status::refused; // still at the front of `in`
    in.consume(frame_header_size + h->size);
  }
  return frames_status::more;
}

// The same, for a server that closes a connection on any problem: empty
// while all is well, else what went wrong, for its log ("a bad frame: ..."
// or `refused`, what fn's refusal means to it).
template <class Fn>
std::string frames_problem(inbuf& in, Fn&& fn, const char* refused) {
  std::string why;
  switch (each_frame(in, std::forward<Fn>(fn), why)) {
    case frames_status::more:
      return {};
    case frames_status::bad:
      return "a bad frame: " + why;
    case frames_status::refused:
      break;
  }
  return refused;
}

// The same, for a caller that only needs to know all went well.
template <class Fn>
bool each_frame(inbuf& in, Fn&& fn) {
  std::string why;
  return each_frame(in, std::forward<Fn>(fn), why) == frames_status::more;
}

} // namespace actors::detail
