// The node's service loop: see service_loop.hpp.

#include "io/service_loop.hpp"

#include <memory>
#include <mutex>
#include <vector>

namespace actors::detail {

namespace {
std::mutex loop_mtx;
std::atomic<event_loop*> the_loop{nullptr};
} // namespace

event_loop& service_loop() {
  if (auto* l = the_loop.load(std::memory_order_acquire))
    return *l;
  prepare_first_thread(); // the fork server first, before taking loop_mtx
  std::lock_guard<std::mutex> guard(loop_mtx);
  if (auto* l = the_loop.load(std::memory_order_relaxed))
    return *l;
  // No busy polling: its clients are other processes' threads, which wait
  // in the kernel anyway, and an idle node should use no CPU.
  auto* l = new event_loop(nullptr, -1, "actors.service", false);
  l->start();
  the_loop.store(l, std::memory_order_release);
  return *l;
}

event_loop* service_loop_if_running() noexcept {
  return the_loop.load(std::memory_order_acquire);
}

bool on_service_loop() noexcept {
  auto* l = the_loop.load(std::memory_order_acquire);
  return l && l->on_this_thread();
}

void stop_service_loop() noexcept {
  event_loop* l = nullptr;
  {
    std::lock_guard<std::mutex> guard(loop_mtx);
    l = the_loop.exchange(nullptr);
  }
  if (!l)
    return;
  l->stop();
  l->close_fds();
  // Not deleted: a pool or queue that another thread still uses while the
  // node stops holds a reference to this loop, and may post to it. Such a
  // post is dropped. Reachable, so not a leak; one per node started.
  static auto* retired = new std::vector<std::unique_ptr<event_loop>>;
  l->retire();
  retired->emplace_back(l);
}

void drop_inherited_service_loop() noexcept {
  if (auto* l = the_loop.exchange(nullptr))
    l->close_fds(); // leaked: its thread object cannot be destroyed here
}

} // namespace actors::detail
