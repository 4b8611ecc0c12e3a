#pragma once
// Frames: the one wire format of libactors. Every message between processes
// (a child's boot record, a pipe message, a transport message) is an 8-byte
// header and a payload:
//
//   u32 size (little endian)  u16 fds  u8 kind  u8 magic (0xAC)
//
// `fds` descriptors travel with the header as SCM_RIGHTS. The header is
// validated, and `size` checked against the cap, before anything is allocated.

#include "base/fd.hpp"

#include <cstdint>
#include <sys/uio.h>
#include <optional>
#include <string>
#include <vector>

namespace actors::detail {

enum class frame_kind : std::uint8_t { boot = 1, object = 2, bytes = 3 };

constexpr std::uint8_t frame_magic = 0xAC;
constexpr std::size_t frame_header_size = 8;
constexpr std::uint16_t max_frame_fds = 16;

struct frame_header {
  std::uint32_t size = 0;
  std::uint16_t fds = 0;
  frame_kind kind = frame_kind::object;
};

void put_header(char* out, const frame_header& h) noexcept;

/// Validates 8 header bytes. On failure returns nullopt and says why in
/// `why`: wrong magic, unknown kind, too many descriptors, or a size over
/// `cap`.
std::optional<frame_header> parse_header(const char* in, std::size_t cap, std::string& why);

/// The cap on a frame's payload, set with actors::set_max_frame_size.
std::size_t frame_cap() noexcept;
/// Sets it (actors::set_max_frame_size checks the value first).
void set_frame_cap(std::size_t bytes) noexcept;
/// The cap every process starts with (and a fork()ed child gets back).
constexpr std::size_t default_frame_cap = std::size_t{2} << 30; // a 1 GiB message fits

/// Sends every byte of the `count` buffers of `v` (sendmsg, MSG_NOSIGNAL,
/// retried on EINTR and on short writes; `v` is consumed). False on error.
bool send_all(int sock, iovec* v, std::size_t count) noexcept;

/// Sends what the socket takes now of the `count` buffers of `v`, without
/// waiting (MSG_DONTWAIT), and appends the bytes it did not take to `rest`,
/// for a thread that must never block on a full socket. False on an error
/// other than a full socket (then nothing is appended).
bool send_or_keep(int sock, const iovec* v, std::size_t count, std::string& rest);

/// Sends one frame, descriptors attached to its header. Returns false if the
/// peer is gone. The caller checks the size against the cap first.
bool send_frame(int sock, frame_kind kind, const char* data, std::size_t size,
                const std::vector<int>& fds) noexcept;

/// Outcome of recv_frame.
enum class recv_status { ok, timeout, eof, bad_frame, truncated };

/// Receives one frame: waits up to `timeout` for it to begin, then reads it
/// whole. Received descriptors are appended to `fds` (owned by the caller).
/// `why` explains bad_frame and truncated.
recv_status recv_frame(int sock, frame_header& header, std::string& payload,
                       std::vector<int>& fds, duration timeout, std::string& why);

} // namespace actors::detail
