// Pipe round trip and bandwidth between two processes, beside Python's
// multiprocessing.Pipe and a raw socketpair doing the same job.

#include "harness.hpp"

#include <actors/all.hpp>

#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr std::size_t big = std::size_t{64} << 20; // 64 MiB messages

void echo(actors::connection<int> c) {
  try {
    for (;;)
      c.send(c.recv());
  } catch (const actors::eof_error&) {
  }
}

void sink(actors::connection<int> c) {
  std::string buffer;
  try {
    for (;;)
      c.send(static_cast<int>(c.recv_bytes_into(buffer)));
  } catch (const actors::eof_error&) {
  }
}

bool read_n(int fd, char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::read(fd, p, n);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool write_n(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    auto r = ::write(fd, p, n);
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// The raw baseline runs in the same kind of process as the libactors peer (a
// fork-server child), on the same kind of socket, but with bare read/write:
// it reads `size`-byte messages and answers each with 4 bytes.
void raw_answer(actors::connection<int> c, std::size_t size) {
  int fd = c.fileno();
  std::string buf(size, '\0');
  while (read_n(fd, buf.data(), size) && write_n(fd, buf.data(), 4)) {
  }
}

struct raw_peer {
  actors::connection<int> mine;
  actors::process child;
  int fd;
  explicit raw_peer(std::size_t size)
    : raw_peer(actors::pipe<int>(), size) {}
  raw_peer(std::pair<actors::connection<int>, actors::connection<int>> ends, std::size_t size)
    : mine(ends.first), child(raw_answer, ends.second, size), fd(mine.fileno()) {
    child.start();
    ends.second.close();
  }
  ~raw_peer() {
    mine.close();
    child.join();
  }
};

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  auto py = bench::run_python("mp_pipe.py");

  // Round trip of one small message; raw and libactors in alternating rounds.
  {
    raw_peer peer(4);
    char b[4] = {1, 2, 3, 4};
    auto [mine, theirs] = actors::pipe<int>();
    actors::process p(echo, theirs);
    p.start();
    theirs.close();
    int i = 0;
    auto [raw, rtt] = bench::per_call_pair(
      [&] {
        write_n(peer.fd, b, 4);
        read_n(peer.fd, b, 4);
      },
      [&] {
        mine.send(i);
        i = mine.recv();
      });
    mine.close();
    p.join();
    auto us = [](double s) { return s * 1e6; };
    bench::emit("pipe.rtt", bench::map(rtt, us), "us", bench::lookup(py, "rtt_us"),
                us(raw.median), {});
  }

  // Bandwidth with 64 MiB messages, each acknowledged; buffers reused on both
  // sides (recv_bytes_into), as the raw peer does.
  {
    std::string payload(big, 'x');
    raw_peer peer(big);
    char ack[4];
    auto [mine, theirs] = actors::pipe<int>();
    actors::process p(sink, theirs);
    p.start();
    theirs.close();
    auto [raw, ours] = bench::per_call_pair(
      [&] {
        write_n(peer.fd, payload.data(), big);
        read_n(peer.fd, ack, 4);
      },
      [&] {
        mine.send_bytes(payload);
        (void) mine.recv();
      });
    mine.close();
    p.join();
    constexpr double gib = 1024.0 * 1024 * 1024;
    auto gibs = [](double s) { return big / s / gib; };
    bench::emit("pipe.bandwidth", bench::map(ours, gibs), "GiB/s",
                bench::lookup(py, "bandwidth_gibs"), gibs(raw.median), {});
  }
}
