// The CAF peer: the jobs libactors benchmarks measure, done the way a CAF 0.17
// user would do them, with default scheduler settings. A plain CAF program
// (no libactors, no bench harness) so that it measures CAF alone.
//
// Prints lines of "key value", each the median of <rounds> rounds (after one
// untimed warm-up round, as bench/harness.cpp measures libactors):
//   middleman_rtt_us      request/response round trip to an actor in another
//                         process, through caf::io::middleman on 127.0.0.1
//   middleman_tell_per_s  one-way messages (16-byte std::string) per second
//                         to that actor, until it has counted them all
//   local_ask_us          request/response round trip to a local actor
//   spawn_local_us        spawning an event-based actor, until it has started
//   idle_bytes_per_actor  RSS growth per idle event-based actor (100000 of
//                         them, 10000 with --quick; each round in a fresh
//                         process)
//
// Usage: caf_peer_bench [--quick] [--verbose] [--rounds N]
//        caf_peer_bench --serve HOST PORT [--tls DIR]    (the far side, for
//        bench/cluster.sh: until stdin closes)
//        caf_peer_bench --connect HOST PORT [--tls DIR] [--quick] [--rounds N]
//        (middleman_rtt_us and middleman_tell_per_s only, to a --serve peer)
//   --quick    every measurement short (whole run well under 15 s)
//   --rounds   timed rounds per figure (default 3 with --quick, else 7)
//   --verbose  median/min/max of every figure on stderr
// With CAF_PEER_TUNED=1 in the environment, --serve and --connect run CAF
// with the gateway's two settings (see tune()).
// A measurement that fails is left out (reason on stderr); the exit status is
// 0 when at least one figure was printed.

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;
using flood_atom = caf::atom_constant<caf::atom("flood")>;

int n_rounds = 0; // from --rounds, else 3 with --quick and 7 without
bool quick = false;
bool verbose = false;
int printed = 0;

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Runs `one_round` n_rounds times (after one untimed round when `warm_up`)
// and prints the median as "key value". A thrown exception drops the figure.
void measure(const char* key, bool warm_up, const std::function<double()>& one_round) {
  try {
    auto t0 = clock_type::now();
    if (warm_up)
      one_round();
    std::vector<double> v;
    for (int i = 0; i < n_rounds; ++i) {
      v.push_back(one_round());
      if (verbose)
        std::fprintf(stderr, "caf_peer: %s round %d: %.6g (%.2f s so far)\n", key, i + 1,
                     v.back(), since(t0));
    }
    std::sort(v.begin(), v.end());
    double median = v[v.size() / 2];
    std::printf("%s %.6g\n", key, median);
    std::fflush(stdout);
    ++printed;
    if (verbose)
      std::fprintf(stderr, "caf_peer: %s median %.6g min %.6g max %.6g\n", key, median,
                   v.front(), v.back());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "caf_peer: %s failed: %s\n", key, e.what());
  }
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what);
}

// VmRSS of this process in kB, -1 if unreadable.
long rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string word;
  while (in >> word) {
    if (word == "VmRSS:") {
      long kb = -1;
      in >> kb;
      return kb;
    }
    in.ignore(1 << 10, '\n');
  }
  return -1;
}

bool write_all(int fd, const void* data, std::size_t n) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t n) {
  auto p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// In a forked child: dies with the parent, whatever happens.
void child_setup(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) // the parent died before prctl
    ::_exit(1);
  ::alarm(120);
}

// -- actors -------------------------------------------------------------------

caf::behavior adder() {
  return {[](int x) { return x + 1; }};
}

struct flood_state {
  int seen = 0;
  int target = -1;
  caf::response_promise done;
};

// Answers an int with int + 1. (flood, m) starts a count of std::string
// messages; the request is answered with m once m of them have arrived.
caf::behavior server(caf::stateful_actor<flood_state>* self) {
  return {
    [](int x) { return x + 1; },
    [=](flood_atom, int m) {
      self->state.seen = 0;
      self->state.target = m;
      self->state.done = self->make_response_promise();
    },
    [=](const std::string&) {
      if (++self->state.seen == self->state.target) {
        self->state.done.deliver(self->state.seen);
        self->state.target = -1;
      }
    },
  };
}

// -- idle_bytes_per_actor: one fresh process per round --------------------------

// Child side: writes the RSS growth in bytes per actor after spawning `n`
// idle actors to `fd` and exits, the actor_system left as it is.
[[noreturn]] void idle_bytes_child(int n, int fd) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::atomic<int> started{0};
  auto idle = [&started]() -> caf::behavior {
    started.fetch_add(1, std::memory_order_relaxed);
    return {[](int x) { return x; }};
  };
  { // warm up the allocator and the scheduler
    auto a = sys.spawn(idle);
    while (started.load() < 1)
      std::this_thread::yield();
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  started = 0;
  std::vector<caf::actor> keep(static_cast<std::size_t>(n)); // touched: not counted below
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  long before = rss_kb();
  for (auto& a : keep)
    a = sys.spawn(idle);
  while (started.load() < n)
    std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  long after = rss_kb();
  double v = before < 0 || after < 0 ? -1 : static_cast<double>(after - before) * 1024.0 / n;
  write_all(fd, &v, sizeof v);
  ::_exit(0);
}

double idle_bytes_round(int n) {
  int fds[2];
  if (::pipe(fds) != 0)
    fail("pipe failed");
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    fail("fork failed");
  if (pid == 0) {
    child_setup(parent);
    ::close(fds[0]);
    try {
      idle_bytes_child(n, fds[1]);
    } catch (...) {
    }
    double v = -1;
    write_all(fds[1], &v, sizeof v);
    ::_exit(1);
  }
  ::close(fds[1]);
  double v = -1;
  bool ok = read_all(fds[0], &v, sizeof v);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  if (!ok || v < 0)
    fail("the measuring child failed");
  return v;
}

// -- middleman: a child process publishes `server` -----------------------------

struct remote_peer {
  pid_t pid = -1;
  int control = -1; // write end; the child exits on EOF
  uint16_t port = 0;
};

[[noreturn]] void run_server_child(int port_fd, int control_fd) {
  try {
    caf::actor_system_config cfg;
    cfg.load<caf::io::middleman>();
    caf::actor_system sys{cfg};
    auto srv = sys.spawn(server);
    auto port = sys.middleman().publish(srv, 0, "127.0.0.1");
    uint16_t p = port ? *port : 0;
    if (!port)
      std::fprintf(stderr, "caf_peer: publish failed: %s\n", sys.render(port.error()).c_str());
    write_all(port_fd, &p, sizeof p);
    ::close(port_fd);
    char c;
    for (;;) { // until the parent closes the pipe (or dies)
      ssize_t r = ::read(control_fd, &c, 1);
      if (r == 0 || (r < 0 && errno != EINTR))
        break;
    }
    ::_exit(0); // here, before any destructor: the actor_system is left as it is
  } catch (...) {
  }
  ::_exit(1);
}

// Forks the child; call before this process creates any actor_system.
remote_peer start_server_child() {
  int port_pipe[2], control_pipe[2];
  if (::pipe(port_pipe) != 0)
    fail("pipe failed");
  if (::pipe(control_pipe) != 0) {
    ::close(port_pipe[0]);
    ::close(port_pipe[1]);
    fail("pipe failed");
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0)
    fail("fork failed");
  if (pid == 0) {
    child_setup(parent);
    ::close(port_pipe[0]);
    ::close(control_pipe[1]);
    run_server_child(port_pipe[1], control_pipe[0]);
  }
  ::close(port_pipe[1]);
  ::close(control_pipe[0]);
  remote_peer peer;
  peer.pid = pid;
  peer.control = control_pipe[1];
  bool ok = read_all(port_pipe[0], &peer.port, sizeof peer.port);
  ::close(port_pipe[0]);
  if (!ok || peer.port == 0)
    peer.port = 0; // the caller stops the child
  return peer;
}

void stop_server_child(remote_peer& peer) {
  if (peer.control >= 0)
    ::close(peer.control);
  peer.control = -1;
  if (peer.pid > 0)
    ::waitpid(peer.pid, nullptr, 0);
  peer.pid = -1;
}

// Sequential request/receive round trips from `self` to `dest`, `n` of them or
// as many as fit in `budget` seconds; microseconds each.
// caf::infinite, not a timeout: in CAF 0.17 the timeout of a request that was
// answered still arrives later and stays in the scoped actor's mailbox, so
// receive() slows down to milliseconds once thousands of them have piled up.
// alarm() in main() keeps the program from hanging instead.
// Seconds an ask round runs, as bench/harness.cpp's per_call rounds.
double round_budget() {
  return quick ? 0.02 : 0.2;
}

double ask_round(caf::scoped_actor& self, const caf::actor& dest, int n, double budget) {
  int x = 0;
  int done = 0;
  bool ok = true;
  std::string why;
  auto t0 = clock_type::now();
  while (done < n && ok) {
    self->request(dest, caf::infinite, x)
      .receive([&](int y) { x = y; },
               [&](caf::error& e) {
                 ok = false;
                 why = self->system().render(e);
               });
    if (++done % 64 == 0 && since(t0) > budget)
      break;
  }
  double s = since(t0);
  if (!ok)
    fail("request failed: " + why);
  if (x != done)
    fail("wrong answers");
  return s / done * 1e6;
}

// TLS files for --serve and --connect (empty: plain TCP): CAF's OpenSSL
// module with <dir>/<name>.pem, <dir>/<name>.key and <dir>/ca.pem.
std::string tls_dir;

// CAF_PEER_TUNED=1: the two settings libactors' gateway uses (no BASP
// deserializing workers, no polling by idle scheduler workers), to compare
// with CAF tuned as well as with CAF's defaults. Never set by bench/run.
void tune(caf::actor_system_config& cfg) {
  const char* e = std::getenv("CAF_PEER_TUNED");
  if (!e || std::string(e) != "1")
    return;
  cfg.set("middleman.workers", 0);
  cfg.set("work-stealing.aggressive-poll-attempts", 0);
  cfg.set("work-stealing.moderate-poll-attempts", 0);
}

void use_tls(caf::actor_system_config& cfg, const char* name) {
  tune(cfg);
  if (tls_dir.empty())
    return;
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = tls_dir + "/" + name + ".pem";
  cfg.openssl_key = tls_dir + "/" + name + ".key";
  cfg.openssl_cafile = tls_dir + "/ca.pem";
}

void measure_middleman(const std::string& host, uint16_t port) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  use_tls(cfg, "h1");
  caf::actor_system sys{cfg};
  auto remote = tls_dir.empty() ? sys.middleman().remote_actor(host, port)
                                : caf::openssl::remote_actor(sys, host, port);
  if (!remote) {
    std::fprintf(stderr, "caf_peer: remote_actor failed: %s\n",
                 sys.render(remote.error()).c_str());
    return;
  }
  caf::actor dest = *remote;
  {
    caf::scoped_actor self{sys};
    measure("middleman_rtt_us", true,
            [&] { return ask_round(self, dest, std::numeric_limits<int>::max(), round_budget()); });

    int tells = quick ? 20000 : 100000;
    const std::string payload(16, 'x');
    auto flood = [&](int m) {
      bool ok = true;
      int seen = -1;
      std::string why;
      auto t0 = clock_type::now();
      auto done = self->request(dest, caf::infinite, flood_atom::value, m);
      for (int i = 0; i < m; ++i)
        self->send(dest, payload);
      done.receive([&](int n) { seen = n; },
                   [&](caf::error& e) {
                     ok = false;
                     why = self->system().render(e);
                   });
      double s = since(t0);
      if (!ok)
        fail("flood failed: " + why);
      if (seen != m)
        fail("the remote actor counted a different number of messages");
      return m / s;
    };
    measure("middleman_tell_per_s", true, [&] { return flood(tells); });
  }
}

// -- one process ----------------------------------------------------------------

void measure_local() {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto base = sys.registry().running();
  {
    caf::scoped_actor self{sys};
    auto a = sys.spawn(adder);
    measure("local_ask_us", true,
            [&] { return ask_round(self, a, std::numeric_limits<int>::max(), round_budget()); });
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  sys.registry().await_running_count_equal(base);

  std::atomic<int> started{0};
  auto trivial = [&started]() -> caf::behavior {
    started.fetch_add(1, std::memory_order_relaxed);
    return {[](int x) { return x; }};
  };
  std::vector<caf::actor> spawned;
  // Spawns k actors and waits until all have started; microseconds per actor.
  // Then lets them go and waits until they are gone, outside the timing.
  auto spawn_round = [&](int k) {
    spawned.clear();
    spawned.reserve(static_cast<std::size_t>(k));
    started = 0;
    auto t0 = clock_type::now();
    for (int i = 0; i < k; ++i)
      spawned.push_back(sys.spawn(trivial));
    while (started.load(std::memory_order_relaxed) < k)
      std::this_thread::yield();
    double s = since(t0);
    for (auto& a : spawned)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    spawned.clear();
    sys.registry().await_running_count_equal(base);
    return s / k * 1e6;
  };
  int spawns = quick ? 5000 : 50000;
  measure("spawn_local_us", true, [&] { return spawn_round(spawns); });
}

} // namespace

// --serve: publishes `server` at host:port and serves until stdin closes.
int serve(const std::string& host, uint16_t port) {
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  use_tls(cfg, "h2");
  caf::actor_system sys{cfg};
  auto srv = sys.spawn(server);
  auto p = tls_dir.empty() ? sys.middleman().publish(srv, port, host.c_str(), true)
                           : caf::openssl::publish(srv, port, host.c_str(), true);
  if (!p) {
    std::fprintf(stderr, "caf_peer: publish failed: %s\n", sys.render(p.error()).c_str());
    ::_exit(1);
  }
  std::printf("serving %u\n", static_cast<unsigned>(*p));
  std::fflush(stdout);
  char c;
  while (::read(0, &c, 1) > 0) {
  }
  ::_exit(0); // the actor_system is left as it is
}

int main(int argc, char** argv) {
  ::alarm(120); // never hang, whatever CAF does
  std::string serve_host, connect_host;
  int serve_port = 0, connect_port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--serve") == 0 && i + 2 < argc) {
      serve_host = argv[++i];
      serve_port = std::atoi(argv[++i]);
      continue;
    }
    if (std::strcmp(argv[i], "--connect") == 0 && i + 2 < argc) {
      connect_host = argv[++i];
      connect_port = std::atoi(argv[++i]);
      continue;
    }
    if (std::strcmp(argv[i], "--tls") == 0 && i + 1 < argc) {
      tls_dir = argv[++i];
      continue;
    }
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else if (std::strcmp(argv[i], "--verbose") == 0)
      verbose = true;
    else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc && std::atoi(argv[i + 1]) > 0)
      n_rounds = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--verbose] [--rounds N] [--tls DIR] "
                           "[--serve HOST PORT | --connect HOST PORT]\n", argv[0]);
      return 2;
    }
  }
  if (n_rounds == 0)
    n_rounds = quick ? 3 : 7;
  if (!serve_host.empty()) {
    ::alarm(0); // serves until its stdin closes
    return serve(serve_host, static_cast<uint16_t>(serve_port));
  }
  if (!connect_host.empty()) { // the middleman figures only, to a --serve peer
    measure_middleman(connect_host, static_cast<uint16_t>(connect_port));
    return printed > 0 ? 0 : 1;
  }

  // Every fork happens before this process creates its first actor_system
  // (and with it, threads).
  int idle_actors = quick ? 10000 : 100000;
  measure("idle_bytes_per_actor", false, [&] { return idle_bytes_round(idle_actors); });

  remote_peer peer;
  try {
    peer = start_server_child();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "caf_peer: no server child: %s\n", e.what());
  }
  if (peer.port != 0)
    measure_middleman("127.0.0.1", peer.port); // its actor_system is gone when it returns
  else if (peer.pid > 0)
    std::fprintf(stderr, "caf_peer: the server child published nothing\n");
  stop_server_child(peer);

  measure_local();
  return printed > 0 ? 0 : 1;
}
