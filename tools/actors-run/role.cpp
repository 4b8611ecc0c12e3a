// role.cpp (private to actors-run): a role's body, as a function and as an
// actor; see role.hpp.

#include "role.hpp"

#include <actors/detail/queue_client.hpp> // flush_all_queues(), before a crash on purpose

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <thread>

namespace actors_run {

std::uint64_t seed_of(std::uint64_t group, std::size_t slot, int restarts) {
  std::uint64_t x = group * 0x9e3779b97f4a7c15ull ^ (slot + 1) * 0xbf58476d1ce4e5b9ull
                    ^ static_cast<std::uint64_t>(restarts + 1) * 0x94d049bb133111ebull;
  x ^= x >> 31; // splitmix64's finalizer
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::int64_t apply_op(const std::string& op, std::int64_t v) {
  if (op == "square")
    return v * v;
  if (op == "double")
    return 2 * v;
  if (op == "increment")
    return v + 1;
  return v;
}

void run_role(role_config cfg, endpoint in, endpoint out, actors::array<std::int64_t> counters,
              actors::event stop) {
  if (actors::parent_process()) // a process of ours: Ctrl-C is actors-run's to handle
    std::signal(SIGINT, SIG_IGN);
  std::mt19937_64 rng(cfg.seed);
  std::uniform_real_distribution<double> chance(0, 1);
  auto& processed = counters[2 * cfg.slot];
  auto& sum = counters[2 * cfg.slot + 1];
  auto wait = [&](actors::duration d) {
    while (d > actors::duration::zero() && !stop.is_set()) {
      auto step = std::min<actors::duration>(d, 100ms);
      stop.wait(step);
      d -= step;
    }
  };
  auto after_item = [&](std::int64_t v) {
    processed.fetch_add(1);
    sum.fetch_add(v);
    if (cfg.delay_us > 0)
      wait(std::chrono::microseconds(cfg.delay_us));
    if (cfg.crash_rate > 0 && chance(rng) < cfg.crash_rate) {
      // A crash on purpose, to show restarts. It happens between two items:
      // first the queues get what this process put and learn what it took
      // (what it fetched beyond that goes back), as when a process exits, so
      // no item is delivered twice and the counts stay exact.
      actors::detail::flush_all_queues();
      std::abort();
    }
  };
  if (cfg.role == "produce") {
    auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = processed.load() + 1; cfg.count == 0 || i <= cfg.count; ++i) {
      if (stop.is_set())
        return;
      if (cfg.rate > 0)
        wait(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                       std::chrono::duration<double>((i - 1) / cfg.rate))
             - std::chrono::steady_clock::now());
      if (!out.put(i, stop))
        return;
      after_item(i);
    }
    return;
  }
  while (!stop.is_set()) {
    auto v = in.get(100ms);
    if (!v)
      continue;
    if (!*v)
      return; // end of the stream
    auto r = apply_op(cfg.op, **v);
    if (cfg.role == "transform" && !out.put(r, stop))
      return;
    after_item(r);
  }
}

role_actor::role_actor(role_config cfg, endpoint in, endpoint out,
                       actors::array<std::int64_t> counters, actors::array<std::int64_t> state,
                       actors::event stop)
  : cfg_(std::move(cfg)), in_(std::move(in)), out_(std::move(out)),
    counters_(std::move(counters)), state_(std::move(state)), stop_(std::move(stop)) {
  if (actors::parent_process()) // in its own process: Ctrl-C is actors-run's to handle
    std::signal(SIGINT, SIG_IGN);
  auto run = state_[role_state::runs(cfg_.slot)].fetch_add(1);
  rng_.seed(seed_of(cfg_.seed, cfg_.slot, static_cast<int>(run)));
  first_ = processed().load() + 1;
}

void role_actor::step() {
  if (finished() || stop_.is_set())
    return;
  auto slice_end = clock::now() + 50ms;
  for (int n = 0; n < 256 && clock::now() < slice_end; ++n) {
    if (cfg_.role == "produce") {
      std::int64_t i = processed().load() + 1;
      if (cfg_.count != 0 && i > cfg_.count)
        return finish();
      if (cfg_.rate > 0) {
        auto due = start_ + std::chrono::duration_cast<clock::duration>(
                              std::chrono::duration<double>((i - first_) / cfg_.rate));
        if (due > clock::now())
          return again(std::min<actors::duration>(due - clock::now(), 100ms));
      }
      if (!out_.try_put(i, 10ms))
        return again(5ms); // the item is put again next time: nothing is lost
      after_item(i);
      continue;
    }
    if (pending_) { // a result that found the output full
      if (!out_.try_put(*pending_, 10ms))
        return again(5ms);
      auto r = *pending_;
      pending_.reset();
      after_item(r);
      continue;
    }
    auto v = in_.get(10ms);
    if (!v)
      return again(5ms);
    if (!*v)
      return finish(); // the end of the stream
    auto r = apply_op(cfg_.op, **v);
    if (cfg_.role == "transform" && !out_.try_put(r, 10ms)) {
      pending_ = r;
      return again(5ms);
    }
    after_item(r);
  }
  again(actors::duration::zero());
}

void role_actor::on_stop() {
  if (!pending_)
    return;
  bool put = false;
  try {
    put = out_.try_put(*pending_, 1s);
  } catch (const actors::error&) {
    // its queue is gone: actors-run is ending
  }
  if (put) {
    processed().fetch_add(1);
    sum().fetch_add(*pending_);
  } else {
    state_[role_state::dropped(cfg_.slot)].fetch_add(1);
  }
}

void role_actor::finish() {
  state_[role_state::finished(cfg_.slot)].store(1);
  actors::detail::flush_all_queues();
}

void role_actor::again(actors::duration pause) {
  if (pause <= actors::duration::zero())
    actors::self().handle(this).tell(&role_actor::step);
  else
    actors::self().after(pause, [this] { step(); });
}

void role_actor::after_item(std::int64_t v) {
  processed().fetch_add(1);
  sum().fetch_add(v);
  if (cfg_.delay_us > 0)
    std::this_thread::sleep_for(std::chrono::microseconds(cfg_.delay_us)); // the simulated work
  if (cfg_.crash_rate > 0 && chance_(rng_) < cfg_.crash_rate) {
    // As run_role does: the queues first learn what this process put and
    // took, so the counts stay exact; then its supervisor sees SIGABRT.
    actors::detail::flush_all_queues();
    std::abort();
  }
}

} // namespace actors_run
