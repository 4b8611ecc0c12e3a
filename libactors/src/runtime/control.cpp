// The node's socket on the service loop: see control.hpp.

#include "runtime/control.hpp"
#include "runtime/stats.hpp"

#include <actors/detail/serialize.hpp>
#include <actors/log.hpp>

#include "io/service_loop.hpp"
#include "runtime/runtime.hpp"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <sys/epoll.h>
#include <unistd.h>
#include <unordered_map>

namespace actors::detail {

namespace {

std::array<std::atomic<node_service>, 256> services{};

struct control_conn {
  unique_fd fd;
  int pid = 0;
  inbuf in;
  outbox out;
};

// Loop thread only, apart from construction and stop().
class control_server {
public:
  control_server() : loop_(service_loop()) {
    loop_.call([this] { loop_.watch(server_.fd(), EPOLLIN, [this](std::uint32_t) { accept_all(); }); });
  }
  const std::string& path() const noexcept { return server_.path(); }
  const std::string& dir() const noexcept { return server_.dir(); }

  void stop() noexcept {
    loop_.call([this] {
      loop_.unwatch(server_.fd());
      for (auto& [fd, c] : conns_)
        loop_.unwatch(fd);
      conns_.clear();
    });
    server_.close();
  }

  void forget_after_fork() noexcept {
    // Closes our copies (the parent's peers keep theirs), freeing nothing.
    for (auto& [fd, c] : conns_)
      ::close(c->fd.release());
    server_.forget();
  }

private:
  void accept_all() {
    int pid = 0;
    while (auto fd = accept_same_user(server_.fd(), pid, "node")) {
      auto c = std::make_unique<control_conn>();
      int at = fd.get();
      c->fd = std::move(fd);
      c->pid = pid;
      conns_[at] = std::move(c);
      loop_.watch(at, EPOLLIN, [this, at](std::uint32_t events) { on_events(at, events); });
    }
  }

  void on_events(int fd, std::uint32_t events) {
    auto it = conns_.find(fd);
    if (it == conns_.end())
      return;
    auto& c = *it->second;
    bool open = true;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      open = c.in.read_available(fd);
      node_service hand_to = nullptr;
      std::string why;
      auto status = each_frame(c.in, [&](const char* p, std::size_t) {
        auto op = static_cast<std::uint8_t>(p[0]);
        if (op == stats_request) {
          answer_stats(c);
          return true;
        }
        hand_to = services[op].load(std::memory_order_acquire);
        return false; // the frame stays for the service that takes it
      }, why);
      if (hand_to) {
        loop_.unwatch(fd);
        auto taken = std::move(it->second);
        conns_.erase(it);
        hand_to(std::move(taken->fd), taken->pid, std::move(taken->in));
        return;
      }
      if (status != frames_status::more) {
        log::warning() << "node socket: closing the connection of pid " << c.pid << " after "
                       << (status == frames_status::bad ? "a bad frame: " + why
                                                        : std::string("a request for nothing "
                                                                      "this node serves"));
        open = false;
      }
    }
    if (open && !c.out.empty() && !c.out.send(fd))
      open = false;
    if (!open) {
      loop_.unwatch(fd);
      conns_.erase(fd);
      return;
    }
    loop_.rewatch(fd, EPOLLIN | (c.out.empty() ? 0u : static_cast<unsigned>(EPOLLOUT)));
  }

  // actors-top's question. The stats sources run here, on the service loop,
  // so a family may read what only this loop touches (the queue server's).
  void answer_stats(control_conn& c) {
    node_stats s;
    try {
      s = collect_stats();
    } catch (const std::exception& e) {
      log::warning() << "node socket: stats: " << e.what();
    }
    c.out.frame(stats_request, {}, encode(s));
  }

  private_server server_{"node"};
  event_loop& loop_;
  std::unordered_map<int, std::unique_ptr<control_conn>> conns_;
};

std::mutex control_mtx;
control_server* the_server = nullptr;

control_server& control() {
  // The fork server starts before this process's first thread, and before
  // control_mtx is taken: it must not inherit that mutex locked.
  auto& fs = require_node().ensure_forkserver();
  std::lock_guard<std::mutex> guard(control_mtx);
  if (!the_server) {
    the_server = new control_server;
    forkserver_cleanup_on_exit(fs, the_server->dir());
  }
  return *the_server;
}

} // namespace

void add_node_service(std::uint8_t op, node_service adopt) {
  services[op].store(adopt, std::memory_order_release);
}

void start_control_endpoint() {
  (void) control();
}

std::string control_endpoint() {
  return control().path();
}

void stop_control_endpoint() noexcept {
  std::lock_guard<std::mutex> guard(control_mtx);
  if (the_server) {
    the_server->stop();
    delete the_server;
    the_server = nullptr;
  }
}

void drop_inherited_control_endpoint() noexcept {
  if (the_server) {
    the_server->forget_after_fork();
    the_server = nullptr; // leaked: its loop's thread is not here
  }
}

} // namespace actors::detail
