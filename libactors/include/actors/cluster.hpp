#pragma once
/// @file cluster.hpp
/// Several hosts: one root node listens, worker nodes on other hosts join
/// it, and actor handles work across them. The hosts talk through CAF's
/// middleman (BASP over TCP) with mutual TLS; libactors' own frames travel
/// inside it as opaque bytes. Processes on one host keep talking over
/// Unix sockets. docs/cluster.md has the whole story: the certificates,
/// what crosses hosts, and the guarantees.
///
/// @code
/// // root host
/// actors::node node;
/// auto opts = actors::cluster::options().name("root").tls("root.pem", "root.key", "ca.pem");
/// auto port = actors::cluster::listen("0.0.0.0", 7070, opts);
/// actors::cluster::wait_for_hosts(2, std::chrono::seconds(30));  // root + one worker
/// auto c = actors::spawn<counter>(actors::on_host("h2"), 0);      // runs on h2
/// c.ask(&counter::add, 5).get();
///
/// // worker host: the same program, started by the tool
/// //   actors-node --join root-host:7070 --name h2 --cert h2.pem --key h2.key --ca ca.pem -- ./program
/// @endcode
///
/// Hosts run the same program: a spawn names its actor's code by its place
/// in the program, as spawn(in_new_process) does. A host whose program
/// differs (another build) is refused when it joins.

#include <actors/spawn.hpp>
#include <actors/time.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace actors::cluster {

/// How this host takes part: its name, its certificates, how fast a silent
/// host is given up.
class options {
public:
  /// This host's name in the cluster (default: the machine's host name).
  /// Letters, digits, '.', '-' and '_'; unique in the cluster.
  options& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }
  /// Mutual TLS: this host's certificate and private key (PEM), and the
  /// cluster's CA certificate, which must have signed every host's
  /// certificate. A host whose certificate the CA did not sign, or that has
  /// none, is refused.
  options& tls(std::string certificate, std::string key, std::string ca) {
    cert_ = std::move(certificate);
    key_ = std::move(key);
    ca_ = std::move(ca);
    return *this;
  }
  /// No TLS: allowed only when every address involved is a loopback address
  /// (127.0.0.0/8, ::1, "localhost"), for tests and trials on one machine.
  options& plaintext_on_loopback() {
    plaintext_ = true;
    return *this;
  }
  /// How often linked hosts exchange heartbeats (default 500 ms). A host
  /// silent for three intervals (1.5 s by default) is taken as gone: its actors' monitors fire
  /// and asks to them fail with actor_died.
  options& heartbeat(std::chrono::milliseconds every) {
    heartbeat_ = every;
    return *this;
  }

  const std::string& name() const noexcept { return name_; }
  const std::string& certificate() const noexcept { return cert_; }
  const std::string& key() const noexcept { return key_; }
  const std::string& ca() const noexcept { return ca_; }
  bool plaintext() const noexcept { return plaintext_; }
  std::chrono::milliseconds heartbeat() const noexcept { return heartbeat_; }

private:
  std::string name_, cert_, key_, ca_;
  bool plaintext_ = false;
  std::chrono::milliseconds heartbeat_{500};
};

/// Makes this node the cluster's root: other hosts join it at
/// `address:port` (port 0 picks a free one). Returns the port.
/// - Blocks: until the socket listens (milliseconds).
/// - Throws: errc::bad_argument for options that cannot work (no TLS
///   files and no plaintext_on_loopback(), plaintext on a non-loopback
///   address, a file that cannot be read, a bad name); errc::already_started
///   if this node is already in a cluster; errc::system_error if the port
///   cannot be bound.
/// - Thread-safe; once per process.
std::uint16_t listen(const std::string& address, std::uint16_t port, const options& opts);

/// Joins the cluster whose root listens at `host:port`. This node becomes
/// a worker host: the root and the other hosts can spawn actors in it.
/// Returns once the root has accepted it.
/// - Throws: errc::cluster_refused if the root refused this host (a
///   certificate its CA did not sign, a different program, a name in use)
///   or its TLS handshake failed; errc::host_unreachable if nothing answers
///   at host:port; the errors of listen() for bad options.
/// A program started by the `actors-node` tool joins inside its
/// actors::node constructor and never returns from it: it serves until the
/// root goes away, then exits.
void join(const std::string& host, std::uint16_t port, const options& opts);

/// The name of this host in the cluster; empty outside one.
std::string this_host();

/// The hosts in the cluster now, as this node knows them, this one first.
std::vector<std::string> hosts();

/// Waits until the cluster has at least `n` hosts (this one included).
/// Throws errc::timeout when `timeout` passes first.
void wait_for_hosts(std::size_t n, duration timeout);

/// Waits until this node's link to its cluster ends (the root stopped, or
/// this host was cut off), or `timeout` passes; true if it ended. A worker
/// started by actors-node does this in its node's constructor.
bool wait_until_unlinked(duration timeout = forever);

} // namespace actors::cluster
