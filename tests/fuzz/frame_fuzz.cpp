// libFuzzer target for everything that reads bytes from another process: the
// frame header parser, the bounds-checked Cereal input archive, and the
// frame readers (a connection's, and the incremental one of the long-lived
// connections) fed through a real socket. Whatever the bytes,
// the result is a value or a named libactors error: never a crash, a hang,
// or an allocation larger than the input.
//
// Built and run by tests/fuzz/run (clang's -fsanitize=fuzzer,address).

#include <actors/all.hpp>

#include "io/frame.hpp"
#include "io/wire.hpp"

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <tuple>
#include <unistd.h>
#include <variant>
#include <vector>

namespace {

struct record {
  int id = 0;
  std::string name;
  std::vector<double> values;
  std::map<std::string, std::vector<std::uint8_t>> blobs;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, name, values, blobs);
  }
};

template <class T>
void try_decode(const char* data, std::size_t size) {
  try {
    (void) actors::detail::decode<T>(data, size);
  } catch (const actors::error& e) {
    if (e.value() != actors::errc::bad_payload)
      __builtin_trap();
  }
}

void decode_all(const char* data, std::size_t size) {
  try_decode<int>(data, size);
  try_decode<std::string>(data, size);
  try_decode<std::vector<int>>(data, size);
  try_decode<std::vector<std::string>>(data, size);
  try_decode<std::tuple<int, std::string, std::optional<std::vector<std::uint8_t>>>>(data, size);
  try_decode<std::variant<int, std::string, record>>(data, size);
  try_decode<record>(data, size);
}

// The whole input, written into a socket and read back as frames by a
// connection until it reports the end or an error.
// The read end of a socket holding the whole input, its write end closed;
// -1 if the input does not fit the socket's buffer.
int socket_holding(const char* data, std::size_t size, int flags) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, sv) != 0)
    return -1;
  bool whole = size == 0 || ::write(sv[1], data, size) == static_cast<ssize_t>(size);
  ::close(sv[1]);
  if (!whole) {
    ::close(sv[0]);
    return -1;
  }
  return sv[0];
}

void read_as_stream(const char* data, std::size_t size) {
  int fd = socket_holding(data, size, 0);
  if (fd < 0)
    return;
  actors::connection<record> conn(std::make_shared<actors::detail::channel>(fd, true, true));
  for (int i = 0; i < 64; ++i) {
    try {
      (void) conn.recv(std::chrono::milliseconds(100));
    } catch (const actors::error& e) {
      auto v = e.value();
      if (v == actors::errc::eof || v == actors::errc::bad_frame || v == actors::errc::closed)
        return;
      if (v != actors::errc::bad_payload && v != actors::errc::timeout)
        __builtin_trap();
    }
  }
}

// The same bytes through the incremental reader that every long-lived
// connection uses (a node's transport, the queue server, pools, the
// manager): frames or a reason, and each payload decodes or is refused.
void read_incrementally(const char* data, std::size_t size) {
  int fd = socket_holding(data, size, SOCK_NONBLOCK);
  if (fd < 0)
    return;
  actors::detail::inbuf in;
  for (;;) {
    bool open = in.read_available(fd);
    std::string why;
    auto status = actors::detail::each_frame(in, [](const char* p, std::size_t n) {
      decode_all(p, n);
      return true;
    }, why);
    if (status == actors::detail::frames_status::bad && why.empty())
      __builtin_trap(); // a refusal always says why
    if (status != actors::detail::frames_status::more || !open)
      break; // a bad frame, or the end (a partial frame stays partial)
  }
  ::close(fd);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  actors::set_max_frame_size(1 << 20); // keep the fuzzer's allocations small
  // Silence the "closing a connection after a bad frame" lines.
  actors::log::basic_config({"%(message)s", "", static_cast<actors::log::level>(100)});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  auto data = reinterpret_cast<const char*>(bytes);
  if (size >= actors::detail::frame_header_size) {
    std::string why;
    auto h = actors::detail::parse_header(data, actors::max_frame_size(), why);
    if (h) {
      auto payload = std::min<std::size_t>(h->size, size - actors::detail::frame_header_size);
      decode_all(data + actors::detail::frame_header_size, payload);
    } else if (why.empty()) {
      __builtin_trap(); // a refusal always says why
    }
  }
  decode_all(data, size);
  read_as_stream(data, size);
  read_incrementally(data, size);
  return 0;
}
