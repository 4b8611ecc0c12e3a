// Supervisors: see supervisor.hpp. A supervisor is an actor of this node
// (supervisor_actor below) whose messages are the callables its handle and
// its monitors post to it; everything it decides runs on it, one event at a
// time, and never blocks on a child: stopping is a sequence driven by the
// children's down notices and grace timers.

#include "actor/cell.hpp"

#include "io/route.hpp"
#include "io/service_loop.hpp"
#include "io/transport.hpp"

#include <actors/log.hpp>
#include <actors/actor_pool.hpp>

#include <algorithm>
#include <csignal>
#include <deque>
#include <sys/types.h>

namespace actors::detail {

// One child, as its supervisor keeps it across restarts (its own and the
// supervisor's). The fields after `grace_timer` are read by children() and
// guarded by supervisor_shared::mtx; the rest is touched only on the
// supervisor actor.
struct child_record {
  child_def def;
  std::uint64_t id = 0;  // its address id, the same for every instance
  std::string endpoint;  // own-process children: the alias its handles dial
  std::shared_ptr<actor_ref> now; // the instance that runs
  std::uint64_t incarnation = 0;
  bool alive = false;
  bool stopping = false;
  bool terminated = false; // stopped on request: not restarted
  std::shared_ptr<timer_state> grace_timer;

  int pid = 0;
  bool running = false;
  std::uint32_t restarts = 0;
  std::optional<down_reason> last_exit;
};

class supervisor_actor;

struct supervisor_shared : std::enable_shared_from_this<supervisor_shared> {
  supervisor_options opts;
  std::string name;
  std::uint64_t id = 0; // the supervisor actor's address id

  std::mutex mtx;
  std::condition_variable changed;
  std::vector<std::shared_ptr<child_record>> children; // in start order
  std::uint64_t restarts = 0;
  std::shared_ptr<actor_ref> ref;        // the supervisor actor (any instance)
  bool running = false;
  std::optional<down_reason> end;        // why it stopped, once it has
  std::weak_ptr<supervisor_shared> parent; // a nested one's supervisor
  std::weak_ptr<child_record> as_child;    // and its record there

  supervisor_actor* instance = nullptr; // on the actor only
};

namespace {

bool finite(duration d) {
  return d < std::chrono::hours(24 * 365);
}

std::string describe_child(const child_record& rec) {
  return "child " + rec.def.spec.id();
}

} // namespace

class supervisor_actor {
public:
  explicit supervisor_actor(std::shared_ptr<supervisor_shared> s) : s_(std::move(s)) {}

  // Starts every child, in order: the first instance has none yet; a
  // restarted one starts again the children its parent's restart stopped.
  void on_start() {
    s_->instance = this;
    {
      std::lock_guard<std::mutex> lock(s_->mtx);
      s_->running = true;
      s_->end.reset();
    }
    std::vector<std::shared_ptr<child_record>> all;
    {
      std::lock_guard<std::mutex> lock(s_->mtx);
      all = s_->children;
    }
    for (auto& rec : all) {
      rec->alive = false;
      rec->stopping = false;
      if (!rec->terminated)
        start_or_fail(rec);
    }
  }

  // The actor stops: after stop() or giving up, no child runs any more;
  // after an unexpected end (its node stops), the children are asked to stop.
  void on_stop() {
    for (auto& rec : snapshot())
      if (rec->alive && rec->now)
        request_stop(*rec->now);
    s_->instance = nullptr;
    std::lock_guard<std::mutex> lock(s_->mtx);
    s_->running = false;
    if (!s_->end)
      s_->end = current_reason();
    s_->changed.notify_all();
  }

  void add(const std::shared_ptr<child_record>& rec,
           const std::shared_ptr<result_state<actor_address>>& reply) {
    if (shutting_down_) {
      reply->fail(0, std::make_exception_ptr(error(
                       errc::bad_argument, "supervisor " + s_->name + " is stopping")));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(s_->mtx);
      for (auto& c : s_->children)
        if (c->def.spec.id() == rec->def.spec.id()) {
          reply->fail(0, std::make_exception_ptr(error(
                           errc::bad_argument, "supervisor " + s_->name + " already has a child "
                                                 + rec->def.spec.id())));
          return;
        }
      s_->children.push_back(rec);
    }
    try {
      start(rec);
    } catch (...) {
      std::lock_guard<std::mutex> lock(s_->mtx);
      s_->children.erase(std::remove(s_->children.begin(), s_->children.end(), rec),
                         s_->children.end());
      reply->fail(0, std::current_exception());
      return;
    }
    reply->set(actor_address(rec->now->address));
  }

  // stop(): every child, last started first, then this actor (normal).
  void shutdown(std::function<void()> done) {
    shutting_down_ = true;
    auto order = snapshot();
    std::reverse(order.begin(), order.end());
    stop_then(std::move(order), [this, done = std::move(done)] {
      finish({});
      if (done)
        done();
      require_cell("supervisor").stop_requested = true;
    });
  }

  // A nested supervisor's stop(): that child only, and not restarted.
  void terminate(const std::shared_ptr<child_record>& rec, std::function<void()> done) {
    rec->terminated = true;
    stop_then({rec}, std::move(done));
  }

private:
  std::vector<std::shared_ptr<child_record>> snapshot() {
    std::lock_guard<std::mutex> lock(s_->mtx);
    return s_->children;
  }

  down_reason current_reason() {
    auto& c = require_cell("supervisor");
    std::lock_guard<std::mutex> lock(c.mtx);
    return c.reason_locked();
  }

  // Starts one instance of `rec` and watches it. Throws what its start throws.
  void start(const std::shared_ptr<child_record>& rec) {
    cell_identity who{rec->def.spec.id(), rec->id,       rec->endpoint,
                      rec->def.spec.get_mailbox(), s_->name, rec->restarts};
    if (!rec->endpoint.empty()) // the last instance's connection may not have seen its end yet
      transport::get().forget(rec->endpoint);
    auto r = rec->def.start(who);
    auto inc = ++rec->incarnation;
    rec->now = r;
    rec->alive = true;
    rec->stopping = false;
    {
      std::lock_guard<std::mutex> lock(s_->mtx);
      rec->pid = r->address.pid;
      rec->running = true;
    }
    // A restart may wait: for a new process's report, or for the answer of
    // another host's node. A down that arrives on the loop that delivers
    // replies (a child in another process or on another host) must not
    // wait there, so it goes through the service loop, which hands it to a
    // scheduler worker; any other goes to this actor directly.
    std::weak_ptr<actor_cell> weak = require_cell("supervisor").shared_from_this();
    auto deliver = [this, weak, rec, inc](const down& d) {
      if (auto c = weak.lock(); c && c->alive)
        post_local(*c, make_callable([this, rec, inc, d] { child_down(rec, inc, d); }));
    };
    watch(*r, [deliver](const down& d) {
      auto* loop = service_loop_if_running();
      if (loop && on_reply_loop())
        loop->post([deliver, d] { deliver(d); });
      else
        deliver(d);
    }, nullptr);
  }

  // A restart's start: one that throws counts as another failure.
  bool start_or_fail(const std::shared_ptr<child_record>& rec) {
    for (;;) {
      try {
        start(rec);
        return true;
      } catch (const std::exception& e) {
        down_reason why{down_reason::kind::exception, 0, 0,
                        "its start failed: " + std::string(e.what())};
        log::error() << "supervisor " << s_->name << ": " << describe_child(*rec) << " "
                     << why.message;
        {
          std::lock_guard<std::mutex> lock(s_->mtx);
          rec->last_exit = why;
        }
        if (!note_restart()) {
          give_up(*rec, why);
          return false;
        }
      }
    }
  }

  void child_down(const std::shared_ptr<child_record>& rec, std::uint64_t inc, const down& d) {
    if (inc != rec->incarnation || !rec->alive)
      return; // an earlier instance, or one given up on
    rec->alive = false;
    {
      std::lock_guard<std::mutex> lock(s_->mtx);
      rec->running = false;
      rec->last_exit = d.reason;
    }
    if (rec->stopping) {
      rec->stopping = false;
      if (rec->grace_timer)
        rec->grace_timer->cancelled = true;
      if (current_stop_ == rec) {
        current_stop_.reset();
        continue_stop();
      }
      return;
    }
    if (shutting_down_ || node_stopping())
      return;
    if (busy()) { // a stop sequence runs: decide once it is done
      deferred_.push_back([this, rec, d] { failed(rec, d); });
      return;
    }
    failed(rec, d);
  }

  void failed(const std::shared_ptr<child_record>& rec, const down& d) {
    if (rec->alive || rec->terminated || shutting_down_)
      return; // restarted meanwhile (one_for_all), or stopping
    auto type = rec->def.spec.get_restart();
    if (type == restart::temporary || (type == restart::transient && d.reason.normal())) {
      log::info() << "supervisor " << s_->name << ": " << describe_child(*rec) << " "
                  << d.reason.describe() << "; not restarted ("
                  << to_string(type) << ")";
      if (type == restart::temporary) {
        std::lock_guard<std::mutex> lock(s_->mtx);
        s_->children.erase(std::remove(s_->children.begin(), s_->children.end(), rec),
                           s_->children.end());
      }
      return;
    }
    bool within_limit = note_restart();
    log::warning() << "supervisor " << s_->name << ": " << describe_child(*rec) << " "
                   << d.reason.describe()
                   << (within_limit ? "; restarting" : "; one restart too many");
    if (!within_limit) {
      give_up(*rec, d.reason);
      return;
    }
    auto all = snapshot();
    auto at = std::find(all.begin(), all.end(), rec) - all.begin();
    std::vector<std::shared_ptr<child_record>> again; // in start order
    switch (s_->opts.get_strategy()) {
      case strategy::one_for_one:
        again = {rec};
        break;
      case strategy::one_for_all:
        again = all;
        break;
      case strategy::rest_for_one:
        again.assign(all.begin() + at, all.end());
        break;
    }
    // The failed child, and those of the others that run (a transient one
    // that ended normally stays ended).
    again.erase(std::remove_if(again.begin(), again.end(),
                               [&](const auto& r) { return r != rec && !r->alive; }),
                again.end());
    std::vector<std::shared_ptr<child_record>> to_stop(again.rbegin(), again.rend());
    stop_then(std::move(to_stop), [this, again] {
      for (auto& r : again) {
        if (r->terminated || shutting_down_)
          continue;
        if (r->def.spec.get_restart() == restart::temporary) {
          std::lock_guard<std::mutex> lock(s_->mtx); // OTP: a temporary one is not restarted
          s_->children.erase(std::remove(s_->children.begin(), s_->children.end(), r),
                             s_->children.end());
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(s_->mtx);
          ++r->restarts;
          ++s_->restarts;
        }
        if (!start_or_fail(r))
          return;
      }
    });
  }

  // Counts a restart; false once the intensity is exceeded.
  bool note_restart() {
    auto now = std::chrono::steady_clock::now();
    history_.push_back(now);
    auto period = s_->opts.get_period();
    while (!history_.empty() && now - history_.front() > period)
      history_.pop_front();
    return static_cast<int>(history_.size()) <= s_->opts.get_intensity();
  }

  // The restart limit is reached: stop every child, then fail, so that a
  // parent supervisor sees a failed child.
  void give_up(const child_record& rec, const down_reason& why) {
    auto text = "supervisor " + s_->name + " reached its restart limit ("
                + std::to_string(s_->opts.get_intensity()) + " in "
                + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   s_->opts.get_period())
                                   .count())
                + " ms); last: " + describe_child(rec) + " " + why.describe();
    log::error() << text << "; stopping its children and itself";
    shutting_down_ = true;
    deferred_.clear();
    auto order = snapshot();
    std::reverse(order.begin(), order.end());
    stop_then(std::move(order), [this, text] {
      down_reason r{down_reason::kind::exception, 0, 0, text};
      finish(r);
      auto& c = require_cell("supervisor");
      {
        std::lock_guard<std::mutex> lock(c.mtx);
        c.more_locked().reason = r;
      }
      c.stop_requested = true;
    });
  }

  void finish(down_reason why) {
    std::lock_guard<std::mutex> lock(s_->mtx);
    s_->end = std::move(why);
  }

  // -- stopping children one at a time ---------------------------------------

  bool busy() const { return current_stop_ || !stop_queue_.empty() || !after_stop_.empty(); }

  void stop_then(std::vector<std::shared_ptr<child_record>> order, std::function<void()> then) {
    for (auto& r : order)
      stop_queue_.push_back(r);
    after_stop_.push_back(std::move(then));
    if (!current_stop_)
      continue_stop();
  }

  void continue_stop() {
    while (!stop_queue_.empty()) {
      auto rec = stop_queue_.front();
      stop_queue_.pop_front();
      if (!rec->alive)
        continue;
      rec->stopping = true;
      current_stop_ = rec;
      if (auto nested = rec->def.nested) {
        auto ref = rec->now;
        if (auto* c = live_local(*ref))
          post_local(*c, make_callable([nested] {
            if (nested->instance)
              nested->instance->shutdown(nullptr);
          }));
      } else {
        request_stop(*rec->now);
      }
      auto grace = rec->def.spec.get_shutdown();
      if (!grace && !rec->def.nested)
        grace = std::chrono::seconds(5);
      if (grace && finite(*grace)) {
        rec->grace_timer = std::make_shared<timer_state>();
        auto inc = rec->incarnation;
        cell_after(require_cell("supervisor"), *grace, rec->grace_timer,
                   [this, rec, inc] { overran(rec, inc); }, false);
      }
      return; // its down notice goes on
    }
    // One stop sequence done: run what waited for it, then deferred failures.
    while (!current_stop_ && stop_queue_.empty() && !after_stop_.empty()) {
      auto f = std::move(after_stop_.front());
      after_stop_.pop_front();
      if (f)
        f();
    }
    while (!busy() && !deferred_.empty()) {
      auto f = std::move(deferred_.front());
      deferred_.pop_front();
      f();
    }
  }

  void overran(const std::shared_ptr<child_record>& rec, std::uint64_t inc) {
    if (inc != rec->incarnation || !rec->alive || !rec->stopping)
      return;
    auto grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      rec->def.spec.get_shutdown().value_or(std::chrono::seconds(5)))
                      .count();
    if (rec->def.own_process) {
      log::warning() << "supervisor " << s_->name << ": " << describe_child(*rec)
                     << " did not stop within " << grace_ms << " ms; killing pid "
                     << rec->now->address.pid;
      ::kill(rec->now->address.pid, SIGKILL); // its down notice goes on
      return;
    }
    log::error() << "supervisor " << s_->name << ": " << describe_child(*rec)
                 << " did not stop within " << grace_ms << " ms; it runs "
                 << (is_remote_endpoint(rec->now->address.endpoint) ? "in another host's node"
                                                                     : "in this process")
                 << " and cannot be killed, so it is counted as stopped";
    rec->alive = false;
    rec->stopping = false;
    {
      std::lock_guard<std::mutex> lock(s_->mtx);
      rec->running = false;
    }
    if (current_stop_ == rec) {
      current_stop_.reset();
      continue_stop();
    }
  }

  std::shared_ptr<supervisor_shared> s_;
  bool shutting_down_ = false;
  std::deque<std::chrono::steady_clock::time_point> history_;
  std::deque<std::shared_ptr<child_record>> stop_queue_;
  std::shared_ptr<child_record> current_stop_;
  std::deque<std::function<void()>> after_stop_;
  std::deque<std::function<void()>> deferred_;
};

namespace {

std::shared_ptr<actor_ref> start_supervisor_actor(const std::shared_ptr<supervisor_shared>& s,
                                                  const cell_identity& who) {
  auto ref = spawn_cell(kind_of<supervisor_actor>(), new supervisor_actor(s), {}, {}, &who);
  if (!s->ref) // later instances have the same id: this ref finds them
    s->ref = ref;
  return ref;
}

std::shared_ptr<supervisor_shared> new_shared(supervisor_options o) {
  if (o.get_intensity() < 0 || o.get_period() <= duration::zero())
    throw error(errc::bad_argument, "supervisor_options::intensity: the restarts must be >= 0 "
                                    "and the period > 0");
  auto s = std::make_shared<supervisor_shared>();
  s->id = reserve_actor_id();
  s->name = o.get_name().empty() ? "supervisor-" + std::to_string(s->id) : o.get_name();
  s->opts = std::move(o);
  return s;
}

// Runs `fn(instance)` on the supervisor actor and waits for its answer.
template <class R, class F>
R on_supervisor(supervisor_shared& s, F fn) {
  auto st = std::make_shared<result_state<R>>();
  auto shared = s.ref;
  actor_cell* cell = shared ? live_local(*shared) : nullptr;
  if (!cell) {
    std::lock_guard<std::mutex> lock(s.mtx);
    throw actor_died(s.name, s.end.value_or(down_reason{down_reason::kind::no_such_actor, 0, 0,
                                                        "it is not running"}));
  }
  if (current_cell() == cell) { // from the supervisor itself (a child spec's code)
    fn(*s.instance, st);
  } else {
    auto* sp = &s;
    post_local(*cell, make_callable([sp, st, fn]() mutable {
      if (sp->instance)
        fn(*sp->instance, st);
      else
        st->fail(0, std::make_exception_ptr(error(errc::bad_argument,
                                                  "supervisor " + sp->name + " is stopping")));
    }));
  }
  return future<R>(st).get(std::chrono::minutes(10));
}

} // namespace

std::shared_ptr<supervisor_shared> make_supervisor(supervisor_options o) {
  auto s = new_shared(std::move(o));
  start_supervisor_actor(s, cell_identity{s->name, s->id, {}, {}, {}, 0});
  return s;
}

std::shared_ptr<supervisor_shared> make_nested(supervisor_options o) {
  return new_shared(std::move(o));
}

std::shared_ptr<actor_ref> supervisor_add(supervisor_shared& s, child_def def) {
  auto rec = std::make_shared<child_record>();
  if (def.nested) {
    rec->id = def.nested->id;
    auto nested = def.nested;
    def.start = [nested](const cell_identity& who) { return start_supervisor_actor(nested, who); };
    nested->parent = s.shared_from_this();
    nested->as_child = rec;
  } else {
    rec->id = reserve_actor_id();
  }
  if (def.own_process)
    rec->endpoint = transport::get().dir() + "/child-" + std::to_string(rec->id) + ".sock";
  rec->def = std::move(def);
  auto a = on_supervisor<actor_address>(
    s, [rec](supervisor_actor& sup, const std::shared_ptr<result_state<actor_address>>& st) {
      sup.add(rec, st);
    });
  return ref_for(std::move(a));
}

std::vector<child_info> supervisor_children(supervisor_shared& s) {
  std::vector<child_info> out;
  std::lock_guard<std::mutex> lock(s.mtx);
  for (auto& c : s.children) {
    child_info i;
    i.id = c->def.spec.id();
    i.type = c->def.nested ? "supervisor" : name_base(c->def.type.c_str());
    i.pid = c->running ? c->pid : 0;
    i.running = c->running;
    i.own_process = c->def.own_process;
    i.restart = c->def.spec.get_restart();
    i.restarts = c->restarts;
    i.last_exit = c->last_exit;
    out.push_back(std::move(i));
  }
  return out;
}

std::uint64_t supervisor_restarts(supervisor_shared& s) {
  std::lock_guard<std::mutex> lock(s.mtx);
  return s.restarts;
}

const std::string& supervisor_name(supervisor_shared& s) {
  return s.name;
}

bool supervisor_running(supervisor_shared& s) {
  std::lock_guard<std::mutex> lock(s.mtx);
  return s.running;
}

void supervisor_stop(supervisor_shared& s) {
  auto parent = s.parent.lock();
  auto rec = s.as_child.lock();
  try {
    if (parent && rec) {
      on_supervisor<none_t>(*parent, [rec](supervisor_actor& sup,
                                           const std::shared_ptr<result_state<none_t>>& st) {
        sup.terminate(rec, [st] { st->set(none_t{}); });
      });
    } else {
      on_supervisor<none_t>(s, [](supervisor_actor& sup,
                                  const std::shared_ptr<result_state<none_t>>& st) {
        sup.shutdown([st] { st->set(none_t{}); });
      });
    }
  } catch (const actor_died&) {
    return; // stopped already
  }
  supervisor_join(s, std::chrono::seconds(10));
}

void supervisor_after(supervisor_shared& s, duration d, std::function<void()> fn) {
  auto ref = s.ref;
  actor_cell* cell = ref ? live_local(*ref) : nullptr;
  if (!cell) {
    fn();
    return;
  }
  post_local(*cell, make_callable([d, fn = std::move(fn)]() mutable {
    cell_after(require_cell("supervisor"), d, std::make_shared<timer_state>(), std::move(fn), false);
  }));
}

std::optional<down_reason> supervisor_join(supervisor_shared& s, duration timeout) {
  std::unique_lock<std::mutex> lock(s.mtx);
  s.changed.wait_for(lock, timeout, [&] { return !s.running && s.end.has_value(); });
  if (s.running || !s.end)
    return std::nullopt;
  return s.end;
}

} // namespace actors::detail
