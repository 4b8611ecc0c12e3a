#include "runtime/node_hooks.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace actors::detail {

namespace {
// A fixed table: a fork child reads it without a lock, and it is never
// destroyed, so the exit hook may run hooks after other statics are gone.
constexpr int max_families = 16;
node_hooks table[max_families];
std::atomic<int> families{0};
std::mutex add_mtx;
} // namespace

void add_node_hooks(const node_hooks& hooks) noexcept {
  std::lock_guard<std::mutex> lock(add_mtx);
  int n = families.load(std::memory_order_relaxed);
  if (n == max_families) {
    std::fprintf(stderr, "actors: more than %d primitive families registered node hooks\n",
                 max_families);
    std::abort();
  }
  table[n] = hooks;
  families.store(n + 1, std::memory_order_release);
}

void run_node_hooks(void (*node_hooks::*which)() noexcept) noexcept {
  int n = families.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i)
    if (auto* fn = table[i].*which)
      fn();
}

} // namespace actors::detail

namespace actors::detail {

namespace {
std::atomic<void (*)()> join_main{nullptr};
} // namespace

void set_join_main(void (*fn)()) noexcept {
  join_main.store(fn, std::memory_order_release);
}

void run_join_main() noexcept {
  if (auto* fn = join_main.load(std::memory_order_acquire)) {
    fn(); // joins, serves, exits
    std::exit(0);
  }
  std::fprintf(stderr,
               "actors: ACTORS_JOIN is set (this program was started to join a cluster), but "
               "it does not use actors/cluster.hpp: start a program that calls "
               "actors::cluster::listen or join\n");
  std::exit(2);
}

} // namespace actors::detail
