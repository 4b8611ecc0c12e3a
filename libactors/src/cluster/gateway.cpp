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

namespace actors::detail::gateway_impl {

gateway_state* g = nullptr;

namespace {

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
  auto fd = connect_unix(path); // this host's: never dial onward from the broker
  if (!fd) {
    self->send(from, opened_atom::value, id, static_cast<std::int32_t>(errc::eof), std::int32_t{0},
               "cannot reach the node at " + g->name + ":" + path + ": " + std::strerror(errno)
                 + " (its process has ended)");
    return;
  }
  int pid = peer_pid(fd.get());
  auto hdl = self->add_scribe(fd.release());
  self->configure_read(hdl, caf::io::receive_policy::at_most(read_chunk));
  stream_key key{origin, id};
  auto& s = g->streams[key];
  s.hdl = hdl;
  s.host = origin;
  s.gw = from;
  g->by_hdl[hdl] = key;
  self->send(from, opened_atom::value, id, std::int32_t{0}, static_cast<std::int32_t>(pid),
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


} // namespace

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

} // namespace actors::detail::gateway_impl
