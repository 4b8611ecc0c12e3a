// The cluster's public calls (actors/cluster.hpp) and the gateway's life:
// options and their checks, starting the gateway's actor system and broker
// (cluster/gateway.cpp), joining a root, and stopping at the node's end.

#include "cluster/gateway.hpp"

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

void link_tls_error_queue_fix() noexcept; // cluster/tls_error_queue.cpp

namespace {

using namespace gateway_impl;

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
    link_tls_error_queue_fix();
    cfg.load<caf::openssl::manager>();
    cfg.openssl_certificate = o.certificate();
    cfg.openssl_key = o.key();
    cfg.openssl_cafile = o.ca();
  }
  cfg.set("middleman.heartbeat-interval", caf::timespan{o.heartbeat()});
  cfg.set("middleman.connection-timeout", caf::timespan{o.heartbeat() * 3});
  cfg.set("scheduler.max-threads", 2);
  // The relay runs on the multiplexer thread, and nothing on it should wait
  // for a scheduler worker (bench/cluster.sh, alternated runs, 2026-12-03):
  // - CAF 0.17 hands each message that arrives over BASP to a worker to
  //   deserialize, which then hands it back to the broker on the
  //   multiplexer: two thread hops per message on each host, ~65-95 us a
  //   round trip in `perf sched timehist`. Here a message is a byte vector
  //   for the broker, so the multiplexer deserializes it itself.
  // - An idle CAF worker spins, then wakes every 50 us for ~25 ms after each
  //   job; through a run of asks both workers of each host did so, on two
  //   cores. Without polling they sleep until a job comes.
  // cluster.ask_rtt against CAF's in the same runs: 1.33-2.1x before,
  // 0.95-1.66x (median 1.02x) without polling, and 0.71-1.19x (median
  // 0.99x) with both changes; cluster.tell is unchanged.
  cfg.set("middleman.workers", 0);
  cfg.set("work-stealing.aggressive-poll-attempts", 0);
  cfg.set("work-stealing.moderate-poll-attempts", 0);
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
