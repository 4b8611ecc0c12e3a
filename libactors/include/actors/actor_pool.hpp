#pragma once
/// @file actor_pool.hpp
/// A pool of n actors of one class, each in its own process, under a
/// supervisor: asks go to the least busy member, map() spreads many asks
/// over all of them (Ray's ActorPool, with futures), and a member that dies
/// is replaced while its in-flight asks fail or are retried elsewhere.
///
/// @code
/// struct resizer {
///   std::string shrink(std::string image);
/// };
/// actors::actor_pool<resizer> pool(4, actors::actor_pool_options().max_retries(2));
/// auto futures = pool.map(&resizer::shrink, images);   // one future per image, in order
/// for (auto& f : futures)
///   save(f.get());
/// @endcode

#include <actors/supervisor.hpp>

#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <vector>

namespace actors {

/// How an actor_pool runs its members.
class actor_pool_options {
public:
  /// An ask whose member dies before answering is sent again, to another
  /// member when one is up, up to `n` times (default 0: it fails with
  /// actor_died). The first retry goes at once, the k-th after 5*k ms, so
  /// n retries cover restarts of every member for about 2.5*n*n ms. Only asks are retried, so a method that is not safe to
  /// run twice should not be asked with retries.
  actor_pool_options& max_retries(int n) {
    retries_ = n;
    return *this;
  }
  /// How member processes start (default: get_start_method()).
  actor_pool_options& method(start_method m) {
    method_ = m;
    return *this;
  }
  /// The restart limit of the pool's supervisor (default: 3 restarts per
  /// member within 5 s). Beyond it the pool gives up: its members stop and
  /// every ask fails with actor_died.
  actor_pool_options& intensity(int restarts, duration period) {
    intensity_ = restarts;
    period_ = period;
    return *this;
  }
  /// The pool's name (its supervisor's), and the prefix of its members'
  /// names (default "<class>-pool-N").
  actor_pool_options& name(std::string n) {
    name_ = std::move(n);
    return *this;
  }

  int get_max_retries() const noexcept { return retries_; }
  std::optional<start_method> get_method() const noexcept { return method_; }
  std::optional<int> get_intensity() const noexcept { return intensity_; }
  duration get_period() const noexcept { return period_; }
  const std::string& get_name() const noexcept { return name_; }

private:
  int retries_ = 0;
  std::optional<start_method> method_;
  std::optional<int> intensity_;
  duration period_ = std::chrono::seconds(5);
  std::string name_;
};

namespace detail {
/// The next pool number of this process (names: "counter-pool-2").
int next_pool_number() noexcept;
bool is_actor_died(const std::exception_ptr& e) noexcept;
} // namespace detail

/// n actors of class T, each in its own process, supervised (one_for_one,
/// permanent). Copies are handles to the same pool.
/// - Blocks: the constructor until every member runs; never on ask/map.
/// - Throws: errc::bad_argument for n < 1 or max_retries < 0; what spawn
///   throws (T's constructor failing in a member: remote_error).
/// - Thread-safe.
template <class T>
class actor_pool {
  struct load {
    std::atomic<std::int64_t> suspect_until{0}; // steady ticks: not before this
  };
  struct state {
    actors::supervisor sup;
    std::vector<actor<T>> members;
    std::unique_ptr<load[]> loads;
    std::atomic<std::size_t> next{0};
    int retries = 0;
    explicit state(actors::supervisor s) : sup(std::move(s)) {}

    static std::int64_t now() {
      return std::chrono::steady_clock::now().time_since_epoch().count();
    }
    // The member with the fewest asks in flight from this process. One
    // that died lately is skipped while it restarts: after an ask failed
    // with actor_died for 100 ms, after its connection closed until its
    // supervisor runs it again (looked at every 20 ms). If none is up, the
    // next in turn.
    std::size_t pick() {
      auto t = now();
      auto n = members.size();
      auto start = next.fetch_add(1, std::memory_order_relaxed) % n;
      std::size_t best = n;
      int best_load = INT_MAX;
      for (std::size_t k = 0; k < n && best_load > 0; ++k) {
        auto i = (start + k) % n;
        if (loads[i].suspect_until.load(std::memory_order_relaxed) > t)
          continue;
        int l = detail::asks_in_flight(*detail::handle_access::ref(members[i]));
        if (l < 0) {
          loads[i].suspect_until = t + std::chrono::steady_clock::duration(std::chrono::milliseconds(20)).count();
          auto kids = sup.children();
          if (i >= kids.size() || !kids[i].running)
            continue;
          l = 0; // running again: this ask dials its new instance
        }
        if (l < best_load) {
          best = i;
          best_load = l;
        }
      }
      return best == n ? start : best;
    }
    void suspect(std::size_t i) {
      loads[i].suspect_until =
        now() + std::chrono::steady_clock::duration(std::chrono::milliseconds(100)).count();
    }
  };

public:
  /// Starts n members T(args...), each in a new process.
  template <class... A>
  actor_pool(int n, const actor_pool_options& o, A&&... args) {
    if (n < 1 || o.get_max_retries() < 0)
      throw error(errc::bad_argument, "actor_pool: the size must be >= 1 and max_retries >= 0");
    auto name = o.get_name().empty()
                  ? detail::name_base(typeid(T).name()) + "-pool-"
                      + std::to_string(detail::next_pool_number())
                  : o.get_name();
    s_ = std::make_shared<state>(actors::supervisor(
      supervisor_options().name(name).intensity(o.get_intensity().value_or(3 * n), o.get_period())));
    s_->retries = o.get_max_retries();
    s_->loads = std::make_unique<load[]>(static_cast<std::size_t>(n));
    auto where = o.get_method() ? in_new_process(*o.get_method()) : in_new_process;
    try {
      for (int i = 0; i < n; ++i)
        s_->members.push_back(s_->sup.template spawn<T>(
          where, child_spec(name + "-" + std::to_string(i + 1)), args...));
    } catch (...) {
      s_->sup.stop();
      throw;
    }
  }

  /// Asks one member (the least busy) to run `m(args...)`.
  template <class M, class... A>
  future<detail::ask_result_t<M>> ask(M m, A&&... args) const {
    using R = detail::ask_result_t<M>;
    if (s_->retries == 0) // nothing to do once it is sent: a plain ask
      return s_->members[s_->pick()].ask(m, std::forward<A>(args)...);
    auto st = std::make_shared<detail::result_state<R>>();
    auto call = std::make_shared<std::function<future<R>(const actor<T>&)>>(
      [m, t = std::make_tuple(std::decay_t<A>(std::forward<A>(args))...)](const actor<T>& h) {
        return std::apply([&](const auto&... a) { return h.ask(m, a...); }, t);
      });
    dispatch<R>(s_, st, std::move(call), s_->retries);
    return future<R>(st);
  }

  /// One ask per item, spread over the members: `m(item)` for a method of
  /// one parameter, or `fn(member, item)` returning the member's future for
  /// anything else (Ray's `pool.map(lambda a, v: a.f.remote(v), values)`).
  /// The futures are in the order of `items`.
  template <class F, class Range>
  auto map(F f, const Range& items) const {
    if constexpr (std::is_member_function_pointer_v<F>) {
      std::vector<future<detail::ask_result_t<F>>> out;
      for (const auto& x : items)
        out.push_back(ask(f, x));
      return out;
    } else {
      using item = std::decay_t<decltype(*std::begin(items))>;
      using fut = std::invoke_result_t<F&, const actor<T>&, const item&>;
      using R = decltype(std::declval<fut>().get());
      std::vector<fut> out;
      for (const auto& x : items) {
        if (s_->retries == 0) {
          out.push_back(f(s_->members[s_->pick()], x));
          continue;
        }
        auto st = std::make_shared<detail::result_state<std::decay_t<R>>>();
        auto call = std::make_shared<std::function<fut(const actor<T>&)>>(
          [f, x](const actor<T>& h) { return f(h, x); });
        dispatch<std::decay_t<R>>(s_, st, std::move(call), s_->retries);
        out.push_back(fut(st));
      }
      return out;
    }
  }

  /// The members' handles (valid across their restarts).
  const std::vector<actor<T>>& members() const noexcept { return s_->members; }
  std::size_t size() const noexcept { return s_->members.size(); }
  /// The supervisor that restarts the members (children(), restarts()).
  const actors::supervisor& supervisor() const noexcept { return s_->sup; }
  /// Stops every member (ordered, as supervisor::stop()).
  void stop() { s_->sup.stop(); }

private:
  template <class R, class Call>
  static void dispatch(std::shared_ptr<state> s, std::shared_ptr<detail::result_state<R>> st,
                       std::shared_ptr<Call> call, int retries_left) {
    auto i = s->pick();
    future<R> f;
    try {
      f = (*call)(s->members[i]);
    } catch (...) {
      st->fail(0, std::current_exception());
      return;
    }
    f.add_done_callback([s, st, call, retries_left, i](const future<R>& done) {
      auto& inner = *detail::future_access::state(done);
      auto e = inner.error();
      if (!e) {
        st->set(std::move(inner.value()));
        return;
      }
      if (detail::is_actor_died(e)) {
        s->suspect(i);
        if (retries_left > 0) {
          // The first retry goes at once (another member is likely up);
          // later ones wait 5 ms more each time, so that a retry does not
          // use up its chances while every member is restarting.
          int attempt = s->retries - retries_left;
          if (attempt == 0) {
            dispatch<R>(s, st, call, retries_left - 1);
          } else {
            detail::supervisor_after(detail::supervisor_access::of(s->sup),
                                     std::chrono::milliseconds(5 * attempt),
                                     [s, st, call, retries_left] {
                                       dispatch<R>(s, st, call, retries_left - 1);
                                     });
          }
          return;
        }
      }
      st->fail(0, e);
    });
  }

  std::shared_ptr<state> s_;
};

} // namespace actors
