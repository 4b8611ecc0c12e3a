// The cluster's gateway: one per host, in the host's node (the root, or the
// process that joined). It links this host to the others through CAF's
// middleman, over mutual TLS (CAF's OpenSSL module), in an actor system of
// its own, so the node's system stays as it is. Any process of the host
// reaches another host through it: it connects to the gateway's Unix
// socket, names the host and the socket path it wants (io/route.hpp), and
// from the answer on the connection is relayed, byte for byte, to a
// connection that the other host's gateway opened to that path. The
// libactors frames inside are opaque here.
//
// Threads: the gateway is a CAF broker, so the relay runs on the
// middleman's multiplexer thread, the one that reads and writes the TCP
// links: no hand-off between threads on the path. Membership, which the
// public calls read, is under `mtx`.
//
//   process on host A          gateway A                    gateway B          node on host B
//   connect(gateway.sock) --> dial frame (B, path) --open--> connect(path) ----> accept
//   <---------------------- answer (pid) <-------- opened --
//   frames ----------------> read, data ------------------> write -----------> frames
//   <------------------------ write <------------------ data <- read <-------- replies
//
// A host that goes silent for the connection timeout (three heartbeats) is
// reported down by CAF; every relayed connection to it is then closed, so
// the processes on this side see the same EOF a dead local process gives.

#include "base/fd.hpp"
#include "base/log.hpp"
#include "io/frame.hpp"
#include "io/route.hpp"
#include "io/transport.hpp"
#include "runtime/node_hooks.hpp"
#include "runtime/runtime.hpp"

#include <actors/cluster.hpp>
#include <actors/detail/actor_spawn.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <unordered_map>

namespace actors::detail {

bool tls_error_queue_fix() noexcept; // cluster/tls_error_queue.cpp

namespace {

using join_atom = caf::atom_constant<caf::atom("join")>;
using member_atom = caf::atom_constant<caf::atom("member")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using opened_atom = caf::atom_constant<caf::atom("opened")>;
using data_atom = caf::atom_constant<caf::atom("data")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;

constexpr std::size_t read_chunk = 256 * 1024;

// One relayed connection. Its key is (the host whose gateway opened it, its
// number there), the same on both sides.
struct stream {
  caf::io::connection_handle hdl; // the local connection
  std::string host;               // the other side's host
  caf::actor gw;                  // the other side's gateway
  bool answered = true;           // origin side: the dial was answered
};
using stream_key = std::pair<std::string, std::uint64_t>;

struct gateway_state {
  std::mutex mtx; // the members, linked, cv
  std::condition_variable cv;
  std::string name;
  bool root = false;
  bool linked = false; // a worker: its root is there
  std::string root_name;
  std::map<std::string, caf::actor> members; // other hosts' gateways
  std::string program;                       // this program's digest
  std::string node_endpoint;                 // this host's node (path "/")

  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor gw; // the broker
  std::unique_ptr<private_server> server;

  // The broker's only.
  std::map<stream_key, stream> streams;
  std::map<caf::io::connection_handle, stream_key> by_hdl;
  std::map<caf::io::connection_handle, std::vector<char>> dialling; // dial frame so far
  std::uint64_t next_id = 1;
};

gateway_state* g = nullptr; // set once, never freed (a fork child forgets it)
gateway_state* inherited_gateway = nullptr; // a fork child's: its threads are not there
std::mutex start_mtx;

// --- options ---------------------------------------------------------------

bool loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool readable_file(const std::string& path) {
  std::ifstream f(path);
  return f.good();
}

std::string default_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

void check_options(const cluster::options& o, const std::string& address, const char* what) {
  const auto& n = o.name();
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
      throw error(errc::bad_argument, std::string(what) + ": the host name \"" + n
                                        + "\" may hold only letters, digits, '.', '-' and '_'");
  if (o.plaintext()) {
    if (!loopback(address))
      throw error(errc::bad_argument,
                  std::string(what) + ": plaintext_on_loopback() with the address " + address
                    + ", which is not a loopback address; use tls(certificate, key, ca)");
    return;
  }
  if (o.certificate().empty() || o.key().empty() || o.ca().empty())
    throw error(errc::bad_argument,
                std::string(what)
                  + ": no TLS files; give options().tls(certificate, key, ca) "
                    "(plaintext_on_loopback() is for 127.0.0.1 only)");
  for (const auto* f : {&o.certificate(), &o.key(), &o.ca()})
    if (!readable_file(*f))
      throw error(errc::bad_argument,
                  std::string(what) + ": cannot read the TLS file " + *f);
  if (o.heartbeat() <= std::chrono::milliseconds::zero())
    throw error(errc::bad_argument, std::string(what) + ": the heartbeat must be positive");
}

// SHA-256 of this program's file: hosts must run the same build, since a
// spawn names its code by its offset in the program.
std::string program_digest() {
  std::ifstream f("/proc/self/exe", std::ios::binary);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx, buf.data(), static_cast<std::size_t>(f.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

// --- the relay: the gateway is a CAF broker -------------------------------------
//
// Everything below runs in the broker, on the middleman's multiplexer
// thread: the local connections are its scribes, the gateway socket its
// doorman. Bytes read from a local connection go to the other host's
// gateway in the same thread that writes BASP to the TCP link, and bytes
// that arrive from it are written to the local connection there too: no
// thread hand-off on the path (each costs a wake-up, 50-150 us here).

using caf::io::connection_handle;

void answer_dial(caf::io::broker* self, connection_handle hdl, errc code, int pid,
                 const std::string& message) {
  auto a = encode(std::make_tuple(static_cast<std::int32_t>(code), static_cast<std::int32_t>(pid),
                                  message));
  char h[frame_header_size];
  put_header(h, {static_cast<std::uint32_t>(a.size()), 0, frame_kind::object});
  self->write(hdl, sizeof h, h);
  self->write(hdl, a.size(), a.data());
  self->flush(hdl);
}

void close_stream(caf::io::broker* self, const stream_key& key, bool tell_other_side) {
  auto it = g->streams.find(key);
  if (it == g->streams.end())
    return;
  auto& s = it->second;
  if (tell_other_side && s.gw)
    self->send(s.gw, close_atom::value, key.first, key.second);
  g->by_hdl.erase(s.hdl);
  self->close(s.hdl);
  g->streams.erase(it);
}

void relay(caf::io::broker* self, const stream_key& key, std::vector<char>& bytes) {
  auto& s = g->streams[key];
  self->send(s.gw, data_atom::value, key.first, key.second, std::move(bytes));
}

// The first bytes of a local connection: the dial frame, (host, path).
void on_dial_bytes(caf::io::broker* self, connection_handle hdl, std::vector<char>& buf) {
  auto& pending = g->dialling[hdl];
  pending.insert(pending.end(), buf.begin(), buf.end());
  if (pending.size() < frame_header_size)
    return;
  std::string why;
  auto h = parse_header(pending.data(), 1 << 16, why);
  if (!h) {
    log::warning() << "cluster gateway: a local connection sent a bad dial frame (" << why
                   << "); closed";
    g->dialling.erase(hdl);
    self->close(hdl);
    return;
  }
  if (pending.size() < frame_header_size + h->size)
    return;
  std::pair<std::string, std::string> target;
  try {
    target = decode<std::pair<std::string, std::string>>(pending.data() + frame_header_size, h->size);
  } catch (const std::exception& e) {
    log::warning() << "cluster gateway: a local connection sent a bad dial frame (" << e.what()
                   << "); closed";
    g->dialling.erase(hdl);
    self->close(hdl);
    return;
  }
  std::vector<char> rest(pending.begin() + static_cast<long>(frame_header_size + h->size), pending.end());
  g->dialling.erase(hdl);
  caf::actor gw;
  std::string known;
  {
    std::lock_guard<std::mutex> lock(g->mtx);
    auto it = g->members.find(target.first);
    if (it != g->members.end())
      gw = it->second;
    for (auto& [n, a] : g->members)
      known += (known.empty() ? "" : ", ") + n;
  }
  if (!gw) {
    answer_dial(self, hdl, errc::host_unreachable, 0,
                "cannot reach " + target.first + ":" + target.second + ": no host named \""
                  + target.first + "\" is in the cluster (this is " + g->name
                  + "; the others: " + (known.empty() ? "none" : known) + ")");
    self->close(hdl);
    return;
  }
  stream_key key{g->name, g->next_id++};
  auto& s = g->streams[key];
  s.hdl = hdl;
  s.host = target.first;
  s.gw = gw;
  s.answered = false;
  g->by_hdl[hdl] = key;
  self->send(gw, open_atom::value, key.first, key.second, target.second,
             caf::actor_cast<caf::actor>(self));
  if (!rest.empty())
    relay(self, key, rest);
}

// The other host's gateway asks for a connection to `path` here.
void on_open(caf::io::broker* self, const std::string& origin, std::uint64_t id, std::string path,
             const caf::actor& from) {
  if (path == "/")
    path = g->node_endpoint; // the host's node
  auto fd = connect_unix(path);
  if (!fd) {
    self->send(from, opened_atom::value, id, static_cast<std::int32_t>(errc::eof), std::int32_t{0},
               "cannot reach the node at " + g->name + ":" + path + ": " + std::strerror(errno)
                 + " (its process has ended)");
    return;
  }
  ucred cred{};
  socklen_t len = sizeof cred;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len);
  auto hdl = self->add_scribe(fd.release());
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk));
  stream_key key{origin, id};
  auto& s = g->streams[key];
  s.hdl = hdl;
  s.host = origin;
  s.gw = from;
  g->by_hdl[hdl] = key;
  self->send(from, opened_atom::value, id, std::int32_t{0}, static_cast<std::int32_t>(cred.pid),
             std::string());
}

void on_opened(caf::io::broker* self, std::uint64_t id, std::int32_t code, std::int32_t pid,
               const std::string& message) {
  stream_key key{g->name, id};
  auto it = g->streams.find(key);
  if (it == g->streams.end())
    return;
  auto& s = it->second;
  answer_dial(self, s.hdl, static_cast<errc>(code), pid, message);
  if (code != 0) {
    close_stream(self, key, false);
    return;
  }
  s.answered = true;
}

void on_data(caf::io::broker* self, const stream_key& key, const std::vector<char>& bytes) {
  auto it = g->streams.find(key);
  if (it == g->streams.end())
    return; // closed here already; the close is on its way to the other side
  // Never before the answer: the other side sends "opened" before it reads
  // anything, and BASP keeps one sender's order.
  auto& s = it->second;
  self->write(s.hdl, bytes.size(), bytes.data());
  self->flush(s.hdl);
}

void on_close(caf::io::broker* self, const stream_key& key) {
  auto it = g->streams.find(key);
  if (it == g->streams.end())
    return;
  if (!it->second.answered)
    answer_dial(self, it->second.hdl, errc::host_unreachable, 0,
                "the connection was closed at " + it->second.host);
  close_stream(self, key, false); // what was written is flushed before the close
}

// A host left or went silent: whatever was relayed to it ends here too.
void drop_host_streams(caf::io::broker* self, const std::string& host) {
  std::vector<stream_key> gone;
  for (auto& [key, s] : g->streams)
    if (s.host == host)
      gone.push_back(key);
  for (auto& key : gone) {
    auto& s = g->streams[key];
    if (!s.answered)
      answer_dial(self, s.hdl, errc::host_unreachable, 0, "the host " + host + " left the cluster");
    close_stream(self, key, false);
  }
}

// --- membership ---------------------------------------------------------------

void add_member(const std::string& name, const caf::actor& gw) {
  std::lock_guard<std::mutex> lock(g->mtx);
  g->members[name] = gw;
  g->cv.notify_all();
}

void remove_member(caf::io::broker* self, const caf::actor_addr& who) {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(g->mtx);
    for (auto it = g->members.begin(); it != g->members.end(); ++it)
      if (it->second.address() == who) {
        name = it->first;
        g->members.erase(it);
        break;
      }
    if (name.empty())
      return;
    if (name == g->root_name)
      g->linked = false;
    g->cv.notify_all();
  }
  log::warning() << "cluster: the host " << name << " left or went silent; its actors are gone";
  drop_host_streams(self, name);
}

// `listener`: the gateway socket, where processes of this host dial (a
// copy the broker's doorman owns).
caf::behavior gateway_broker(caf::io::broker* self, int listener) {
  self->set_down_handler([self](caf::down_msg& m) { remove_member(self, m.source); });
  self->add_doorman(listener);
  return {
    [self](const caf::io::new_connection_msg& m) {
      g->dialling[m.handle];
      self->configure_read(m.handle, caf::io::receive_policy::at_most(read_chunk));
    },
    [self](caf::io::new_data_msg& m) {
      auto it = g->by_hdl.find(m.handle);
      if (it != g->by_hdl.end()) {
        relay(self, it->second, m.buf);
        return;
      }
      if (g->dialling.count(m.handle))
        on_dial_bytes(self, m.handle, m.buf);
    },
    [self](const caf::io::connection_closed_msg& m) {
      g->dialling.erase(m.handle);
      auto it = g->by_hdl.find(m.handle);
      if (it != g->by_hdl.end()) {
        auto key = it->second;
        close_stream(self, key, true); // the local side closed
      }
    },
    [](const caf::io::acceptor_closed_msg&) {},
    [self](join_atom, const std::string& name, const std::string& program,
           const caf::actor& gw) -> std::tuple<std::int32_t, std::string, std::string> {
      if (!g->root)
        return {static_cast<std::int32_t>(errc::cluster_refused), "this host is not the cluster's root", g->name};
      if (program != g->program)
        return {static_cast<std::int32_t>(errc::cluster_refused),
                "the host " + name + " runs a different program than the root " + g->name
                  + " (another build: a spawn names its code by its place in the program)",
                g->name};
      if (name == g->name)
        return {static_cast<std::int32_t>(errc::cluster_refused),
                "the host name " + name + " is the root's own", g->name};
      std::vector<std::pair<std::string, caf::actor>> others;
      caf::actor replaced;
      {
        std::lock_guard<std::mutex> lock(g->mtx);
        auto it = g->members.find(name);
        if (it != g->members.end())
          replaced = it->second; // a host that restarts rejoins under its name
        for (auto& m : g->members)
          if (m.first != name)
            others.push_back(m);
      }
      if (replaced) {
        log::warning() << "cluster: the host " << name << " joined again; its old node is gone";
        self->demonitor(replaced);
        {
          std::lock_guard<std::mutex> lock(g->mtx);
          g->members.erase(name);
        }
        drop_host_streams(self, name);
      }
      self->monitor(gw);
      for (auto& [n, a] : others) {
        self->send(gw, member_atom::value, n, a);
        self->send(a, member_atom::value, name, gw);
      }
      add_member(name, gw);
      log::info() << "cluster: the host " << name << " joined";
      return {0, std::string(), g->name};
    },
    [self](member_atom, const std::string& name, const caf::actor& gw) {
      self->monitor(gw);
      add_member(name, gw);
    },
    [self](open_atom, const std::string& origin, std::uint64_t id, const std::string& path,
           const caf::actor& reply_to) {
      // reply_to, not the members: a host that just joined may be asked
      // before it has taken the root into its own list.
      on_open(self, origin, id, path, reply_to);
    },
    [self](opened_atom, std::uint64_t id, std::int32_t code, std::int32_t pid, const std::string& msg) {
      on_opened(self, id, code, pid, msg);
    },
    [self](data_atom, const std::string& origin, std::uint64_t id, const std::vector<char>& bytes) {
      on_data(self, stream_key{origin, id}, bytes);
    },
    [self](close_atom, const std::string& origin, std::uint64_t id) {
      on_close(self, stream_key{origin, id});
    },
    [self](stop_atom) {
      std::vector<stream_key> all;
      for (auto& [k, st] : g->streams)
        all.push_back(k);
      for (auto& k : all)
        close_stream(self, k, false);
      self->quit();
    },
  };
}

// --- starting -------------------------------------------------------------------

void stop_gateway() noexcept;
void drop_inherited_gateway() noexcept;

void start(const cluster::options& o, bool root) {
  std::lock_guard<std::mutex> lock(start_mtx);
  if (g)
    throw error(errc::already_started, "this node is already in a cluster, as " + g->name);
  auto* s = new gateway_state;
  s->name = o.name().empty() ? default_name() : o.name();
  s->root = root;
  s->program = program_digest();
  s->cfg = std::make_unique<caf::actor_system_config>();
  auto& cfg = *s->cfg;
  cfg.load<caf::io::middleman>();
  if (!o.plaintext()) {
    if (!tls_error_queue_fix()) // links cluster/tls_error_queue.cpp in
      throw error(errc::system_error, "the TLS error-queue fix is missing");
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = o.certificate();
    cfg.openssl_key = o.key();
    cfg.openssl_cafile = o.ca();
  }
  cfg.set("middleman.heartbeat-interval", caf::timespan{o.heartbeat()});
  cfg.set("middleman.connection-timeout", caf::timespan{o.heartbeat() * 3});
  cfg.set("scheduler.max-threads", 2);
  s->sys = std::make_unique<caf::actor_system>(cfg);
  s->server = std::make_unique<private_server>("gateway");
  g = s;
  static const bool hooked = [] {
    node_hooks h;
    h.stop = &stop_gateway;
    h.drop_inherited = &drop_inherited_gateway;
    add_node_hooks(h);
    return true;
  }();
  (void) hooked;
  start_actor_runtime(); // the host's node serves actors from now on
  s->node_endpoint = transport::get().endpoint();
  int listener = ::fcntl(s->server->fd(), F_DUPFD_CLOEXEC, 0); // the doorman owns its copy
  s->gw = s->sys->middleman().spawn_broker(gateway_broker, listener);
  set_cluster_route(s->name, s->server->path(), s->node_endpoint);
}

// A stopped gateway's state stays reachable (not freed: its idle actor
// system's threads may still read it), like a retired service loop.
void retire(gateway_state* s) noexcept {
  static auto* retired = new std::vector<gateway_state*>;
  retired->push_back(s);
  g = nullptr;
}

void stop_gateway() noexcept {
  std::lock_guard<std::mutex> guard(start_mtx);
  auto* s = g;
  if (!s)
    return;
  {
    caf::scoped_actor self{*s->sys};
    self->send(s->gw, stop_atom::value); // closes every relayed connection
    self->wait_for(s->gw);
  }
  s->gw = nullptr;
  {
    std::lock_guard<std::mutex> lock(s->mtx);
    s->members.clear();
    s->linked = false;
    s->cv.notify_all();
  }
  // The gateway's actor system is left to the end of the process, idle:
  // CAF 0.17.6's ~actor_system frees one of its objects twice when a node
  // it was linked to went away first (seen with valgrind: a worker whose
  // root stopped aborted in free()). Its threads wait on nothing now.
  (void) s->sys.release();
  (void) s->cfg.release();
  s->server->close();
  retire(s);
  set_cluster_route("", "", "");
}

void drop_inherited_gateway() noexcept {
  if (g) {
    g->server->forget();
    inherited_gateway = g; // reachable; no allocation here
    g = nullptr;
  }
  // The route stays: this child reaches other hosts through the parent's
  // gateway, as every other process of the host does.
}

errc from_caf(const caf::error& e) {
  if (e == caf::sec::cannot_connect_to_node || e == caf::sec::unavailable_or_would_block)
    return errc::host_unreachable;
  return errc::cluster_refused;
}

void worker_main() {
  std::string where = std::getenv("ACTORS_JOIN");
  auto opts = cluster::options();
  auto env = [](const char* n) -> std::string {
    const char* v = std::getenv(n);
    return v ? v : "";
  };
  opts.name(env("ACTORS_JOIN_NAME"));
  if (env("ACTORS_CLUSTER_PLAINTEXT") == "1")
    opts.plaintext_on_loopback();
  else
    opts.tls(env("ACTORS_TLS_CERT"), env("ACTORS_TLS_KEY"), env("ACTORS_TLS_CA"));
  if (auto hb = env("ACTORS_CLUSTER_HEARTBEAT_MS"); !hb.empty())
    opts.heartbeat(std::chrono::milliseconds(std::atoi(hb.c_str())));
  for (const char* n : {"ACTORS_JOIN", "ACTORS_JOIN_NAME", "ACTORS_CLUSTER_PLAINTEXT", "ACTORS_TLS_CERT",
                        "ACTORS_TLS_KEY", "ACTORS_TLS_CA", "ACTORS_CLUSTER_HEARTBEAT_MS"})
    ::unsetenv(n); // children must not join again
  auto colon = where.rfind(':');
  try {
    if (colon == std::string::npos)
      throw error(errc::bad_argument, "ACTORS_JOIN=" + where + " is not host:port");
    cluster::join(where.substr(0, colon), static_cast<std::uint16_t>(std::atoi(where.c_str() + colon + 1)), opts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "actors-node: cannot join %s: %s\n", where.c_str(), e.what());
    std::exit(1);
  }
  log::info() << "cluster: " << cluster::this_host() << " joined the root at " << where;
  cluster::wait_until_unlinked();
  log::info() << "cluster: the link to the root ended; " << cluster::this_host() << " stops";
}

[[maybe_unused]] const bool registered = [] {
  set_join_main(&worker_main);
  return true;
}();

} // namespace

} // namespace actors::detail

namespace actors::cluster {

using namespace actors::detail;

namespace {
void join_root(const std::string& host, std::uint16_t port, const options& opts);
}

std::uint16_t listen(const std::string& address, std::uint16_t port, const options& opts) {
  check_options(opts, address, "cluster::listen");
  start(opts, true);
  auto p = opts.plaintext() ? caf::io::publish(g->gw, port, address.c_str(), true)
                            : caf::openssl::publish(g->gw, port, address.c_str(), true);
  if (!p) {
    auto why = g->sys->render(p.error());
    stop_gateway();
    throw error(errc::system_error, "cluster::listen: cannot listen on " + address + ":"
                                      + std::to_string(port) + ": " + why);
  }
  log::info() << "cluster: " << g->name << " listens on " << address << ":" << *p;
  return *p;
}

void join(const std::string& host, std::uint16_t port, const options& opts) {
  check_options(opts, host, "cluster::join");
  start(opts, false);
  try {
    join_root(host, port, opts);
  } catch (...) {
    stop_gateway(); // a later join may try again
    throw;
  }
}

namespace {
void join_root(const std::string& host, std::uint16_t port, const options& opts) {
  auto at = host + ":" + std::to_string(port);
  auto root = opts.plaintext() ? caf::io::remote_actor(*g->sys, host, port)
                               : caf::openssl::remote_actor(*g->sys, host, port);
  if (!root) {
    auto code = from_caf(root.error());
    throw error(code, "cluster::join: the root at " + at
                        + (code == errc::host_unreachable
                             ? " does not answer (" + g->sys->render(root.error()) + ")"
                             : " refused this host's TLS handshake ("
                                 + g->sys->render(root.error())
                                 + "): its certificate must be signed by the cluster's CA, "
                                   "and both sides must use TLS"));
  }
  caf::scoped_actor self{*g->sys};
  std::int32_t code = -1;
  std::string message, root_name;
  self->request(*root, std::chrono::seconds(10), join_atom::value, g->name, g->program, g->gw)
    .receive(
      [&](std::int32_t c, std::string& m, std::string& r) {
        code = c;
        message = std::move(m);
        root_name = std::move(r);
      },
      [&](caf::error& e) { message = g->sys->render(e); });
  if (code != 0)
    throw error(code < 0 ? errc::host_unreachable : static_cast<errc>(code),
                "cluster::join: the root at " + at + " refused " + g->name + ": " + message);
  {
    std::lock_guard<std::mutex> lock(g->mtx);
    g->root_name = root_name;
    g->linked = true;
  }
  caf::anon_send(g->gw, member_atom::value, root_name, *root);
  // The root is a member once the gateway actor has taken that message.
  std::unique_lock<std::mutex> lock(g->mtx);
  g->cv.wait_for(lock, std::chrono::seconds(10), [&] { return g->members.count(root_name) > 0; });
}
} // namespace

std::string this_host() {
  return detail::cluster_host();
}

std::vector<std::string> hosts() {
  std::vector<std::string> out;
  if (!g)
    return out;
  std::lock_guard<std::mutex> lock(g->mtx);
  out.push_back(g->name);
  for (auto& [n, a] : g->members)
    out.push_back(n);
  return out;
}

void wait_for_hosts(std::size_t n, duration timeout) {
  if (!g)
    throw error(errc::bad_argument, "cluster::wait_for_hosts: this node is not in a cluster");
  std::unique_lock<std::mutex> lock(g->mtx);
  auto ok = g->cv.wait_for(lock, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout),
                           [&] { return g->members.size() + 1 >= n; });
  if (!ok)
    throw error(errc::timeout, "cluster::wait_for_hosts: " + std::to_string(g->members.size() + 1)
                                 + " of " + std::to_string(n) + " hosts after the timeout");
}

bool wait_until_unlinked(duration timeout) {
  if (!g)
    return true;
  std::unique_lock<std::mutex> lock(g->mtx);
  auto pred = [&] { return !g->linked && !g->root; };
  if (timeout == forever) {
    g->cv.wait(lock, pred);
    return true;
  }
  return g->cv.wait_for(lock, std::chrono::duration_cast<std::chrono::nanoseconds>(timeout), pred);
}

} // namespace actors::cluster
