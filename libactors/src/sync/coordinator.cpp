// Coordinator actors: locks, semaphores and events used from another host.
//
// Shared memory does not cross hosts. When a lock, semaphore or event is
// encoded for an actor on another host, the sending process registers it
// here and the handle carries the address of this process's coordinator
// actor and the object's number. The far handle turns each call into an ask.
//
// The coordinator runs every operation on the node's service loop, always
// that one thread: a pthread mutex belongs to the thread that locked it, so
// the thread that takes a lock for a far holder must be the one that gives
// it back. Only non-blocking operations run there (trylock, a semaphore's
// non-blocking acquire, reading an event); a far caller that has to wait is
// kept in a list that is tried again every millisecond until it succeeds or
// its timeout passes. Local processes keep using the shared memory directly,
// so a far holder and a local one exclude each other.
//
// A far holder is a thread of a process on another host. Its process has a
// small token actor; the coordinator monitors it, and when that process or
// its host is gone, whatever it held is given back (the next far acquirer is
// told owner_died, as a local one is after a holder died).

#include <actors/actor.hpp>
#include <actors/detail/remote_sync.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>
#include <actors/spawn.hpp>
#include <actors/sync.hpp>

#include "io/retry_timer.hpp"
#include "io/route.hpp"
#include "io/service_loop.hpp"
#include "sync/shared_state.hpp"

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace actors::detail {

/// A process's token: coordinators monitor it to learn that the process (or
/// its host) is gone. It has no methods of its own.
struct sync_holder {
  int pid() const { return static_cast<int>(::getpid()); }
};

/// One per process that lent a lock, semaphore or event to another host.
class sync_coordinator {
public:
  promise<sync_answer> call(std::uint64_t id, std::uint8_t op, bool blocking,
                            std::int64_t timeout_ns, std::string holder,
                            actor<sync_holder> token);

private:
  std::map<std::string, std::uint64_t> watched_; // holder process -> monitor id
};

struct far_sync {
  actor<sync_coordinator> coordinator;
  std::uint64_t id = 0;
};

/// Builds handles on segments it did not create (the coordinator's own).
struct sync_access {
  template <class T>
  static T adopt(const std::shared_ptr<shm_segment>& segment) {
    bool& flag = decoding();
    bool saved = flag;
    flag = true; // the constructor makes a placeholder
    T handle;
    flag = saved;
    handle.segment_ = segment;
    return handle;
  }
};

namespace {

// -- what this process lends (any thread) -------------------------------------------

struct lent_object {
  std::shared_ptr<shm_segment> segment;
  std::size_t offset = 0;
  sync_kind kind = sync_kind::mutex;
};

struct lending {
  std::mutex mtx;
  int pid = 0; // the process these belong to (a forked child starts over)
  std::map<std::uint64_t, lent_object> objects;
  std::map<std::pair<const void*, std::size_t>, std::uint64_t> numbers;
  std::uint64_t next = 1;
  std::optional<actor<sync_coordinator>> coordinator;
  std::optional<actor<sync_holder>> token;
};

lending& lent() {
  static auto* l = new lending; // used until the process ends
  if (l->pid != ::getpid()) {
    l->pid = ::getpid();
    l->objects.clear();
    l->numbers.clear();
    l->coordinator.reset();
    l->token.reset();
  }
  return *l;
}

std::optional<lent_object> find_lent(std::uint64_t id) {
  auto& l = lent();
  std::lock_guard<std::mutex> lock(l.mtx);
  auto it = l.objects.find(id);
  if (it == l.objects.end())
    return std::nullopt;
  return it->second;
}

// -- the coordinator's state (service loop only) ------------------------------------

using steady = std::chrono::steady_clock;

struct request {
  std::uint64_t id;
  sync_op op;
  bool blocking;
  steady::time_point deadline;
  std::string holder; // "host/pid/tid"
  promise<sync_answer> reply;
};

struct object_state {
  sync_kind kind;
  std::optional<mutex> lock; // basic_mutex on the segment; recursive or not
  bool recursive = false;
  std::optional<semaphore> sem;
  std::optional<event> flag;
  std::map<std::string, unsigned> held; // far holder -> count (lock) or permits
  bool holder_died = false;             // tell the next far acquirer
};

bool is_recursive(const std::shared_ptr<shm_segment>& s, std::size_t offset) {
  auto* m = reinterpret_cast<pthread_mutex_t*>(s->data() + offset);
  return (m->__data.__kind & 3) == PTHREAD_MUTEX_RECURSIVE;
}

// "host/pid/" as "pid P on host H".
std::string describe_holder(const std::string& prefix) {
  auto slash = prefix.find('/');
  auto host = prefix.substr(0, slash);
  auto pid = prefix.substr(slash + 1, prefix.size() - slash - 2);
  return "pid " + pid + (host.empty() ? std::string() : " on host " + host);
}

struct coordinator_state {
  std::map<std::uint64_t, object_state> objects;
  std::deque<request> waiting;
  retry_timer retry_waiting; // retry(), every millisecond while any waits

  object_state& object(std::uint64_t id) {
    auto it = objects.find(id);
    if (it != objects.end())
      return it->second;
    auto o = find_lent(id);
    if (!o)
      throw error(errc::bad_argument, "no lock, semaphore or event number " + std::to_string(id)
                                        + " is lent from this process");
    object_state st{o->kind, {}, false, {}, {}, {}, false};
    if (o->kind == sync_kind::mutex) {
      st.lock.emplace(o->segment, o->offset);
      st.recursive = is_recursive(o->segment, o->offset);
    } else if (o->kind == sync_kind::semaphore) {
      st.sem.emplace(sync_access::adopt<semaphore>(o->segment));
    } else {
      st.flag.emplace(sync_access::adopt<event>(o->segment));
    }
    return objects.emplace(id, std::move(st)).first->second;
  }

  // Tries `r` once; true if it is answered (done, failed or timed out).
  bool attempt(request& r) {
    try {
      auto& o = object(r.id);
      std::optional<sync_answer> a;
      switch (o.kind) {
      case sync_kind::mutex:
        a = on_lock(o, r);
        break;
      case sync_kind::semaphore:
        a = on_semaphore(o, r);
        break;
      case sync_kind::event:
        a = on_event(o, r);
        break;
      }
      if (a) {
        r.reply.set_value(*a);
        return true;
      }
      if (!r.blocking || steady::now() >= r.deadline) {
        r.reply.set_value(sync_answer{}); // busy, or not set: false
        return true;
      }
      return false;
    } catch (...) {
      r.reply.set_exception(std::current_exception());
      return true;
    }
  }

  // nullopt: busy (wait, or answer false).
  std::optional<sync_answer> on_lock(object_state& o, request& r) {
    auto& m = *o.lock;
    auto mine = o.held.find(r.holder);
    switch (r.op) {
    case sync_op::acquire:
      if (mine != o.held.end()) {
        if (!o.recursive) {
          if (!r.blocking)
            return sync_answer{};
          throw error(errc::bad_argument,
                      "acquire(): this thread already holds this lock (use recursive_mutex "
                      "to acquire it again)");
        }
        m.acquire(false); // this loop holds it: a recursive lock takes it again
        ++mine->second;
        return sync_answer{true, false, 0};
      }
      if (!o.held.empty() || !m.acquire(false))
        return std::nullopt;
      o.held[r.holder] = 1;
      return taken(o, m.owner_died());
    case sync_op::release:
      if (mine == o.held.end())
        throw error(errc::not_owner,
                    "release(): this thread does not hold the lock (release an unheld lock, "
                    "or one held by another thread or process)");
      m.release();
      if (--mine->second == 0)
        o.held.erase(mine);
      return sync_answer{true, false, 0};
    case sync_op::locked:
      if (!o.held.empty()) // held by a far thread; a recursive one's own says false
        return sync_answer{!(o.recursive && o.held.size() == 1 && mine != o.held.end()), false, 0};
      return sync_answer{m.locked(), false, 0};
    default:
      throw error(errc::bad_argument, "not an operation of a lock");
    }
  }

  std::optional<sync_answer> on_semaphore(object_state& o, request& r) {
    auto& s = *o.sem;
    switch (r.op) {
    case sync_op::acquire:
      if (!s.acquire(false))
        return std::nullopt;
      ++o.held[r.holder];
      return taken(o, s.owner_died());
    case sync_op::release: {
      s.release(); // a bounded semaphore throws above its initial value
      auto mine = o.held.find(r.holder);
      if (mine != o.held.end() && --mine->second == 0)
        o.held.erase(mine);
      return sync_answer{true, false, 0};
    }
    case sync_op::value:
      return sync_answer{true, false, s.get_value()};
    default:
      throw error(errc::bad_argument, "not an operation of a semaphore");
    }
  }

  std::optional<sync_answer> on_event(object_state& o, request& r) {
    auto& e = *o.flag;
    switch (r.op) {
    case sync_op::set:
      e.set();
      return sync_answer{true, false, 0};
    case sync_op::clear:
      e.clear();
      return sync_answer{true, false, 0};
    case sync_op::is_set:
      return sync_answer{e.is_set(), false, 0};
    case sync_op::wait:
      if (!e.is_set())
        return std::nullopt;
      return sync_answer{true, false, 0};
    default:
      throw error(errc::bad_argument, "not an operation of an event");
    }
  }

  static sync_answer taken(object_state& o, bool died_here) {
    sync_answer a{true, died_here || o.holder_died, 0};
    o.holder_died = false;
    return a;
  }

  void submit(request r) {
    if (!waiting.empty() && r.blocking) { // first come, first served
      waiting.push_back(std::move(r));
      retry();
      return;
    }
    if (!attempt(r)) {
      waiting.push_back(std::move(r));
      schedule();
    }
  }

  void retry() {
    for (auto it = waiting.begin(); it != waiting.end();)
      it = attempt(*it) ? waiting.erase(it) : std::next(it);
    schedule();
  }

  void schedule() {
    if (!waiting.empty())
      retry_waiting.arm(service_loop(), std::chrono::milliseconds(1), [this] { retry(); });
  }

  // The process `prefix` ("host/pid/") is gone: give back what its threads held.
  void holder_gone(const std::string& prefix) {
    for (auto& [id, o] : objects) {
      for (auto it = o.held.begin(); it != o.held.end();) {
        if (it->first.compare(0, prefix.size(), prefix) != 0) {
          ++it;
          continue;
        }
        for (unsigned i = 0; i < it->second; ++i) {
          try {
            if (o.lock)
              o.lock->release();
            else if (o.sem)
              o.sem->release();
          } catch (const std::exception& e) {
            log::warning() << "giving back what a gone holder held: " << e.what();
          }
        }
        log::warning() << "a far holder (" << describe_holder(prefix)
                       << ") is gone; what it held of a lent "
                       << (o.lock ? "lock" : "semaphore") << " was given back";
        o.holder_died = true;
        it = o.held.erase(it);
      }
    }
    retry();
  }
};

coordinator_state& state() { // service loop only
  static auto* s = new coordinator_state;
  static int pid = 0;
  if (pid != ::getpid()) { // first use, or a forked child: nothing lent yet
    pid = ::getpid();
    s->objects.clear();
    s->waiting.clear();
    s->retry_waiting.forget(); // it was due on the parent's loop
  }
  return *s;
}

// "host/pid/" of this process, and "host/pid/tid" of this thread.
std::string process_key() {
  return cluster_host() + "/" + std::to_string(::getpid()) + "/";
}

actor<sync_holder> my_token() {
  auto& l = lent();
  std::lock_guard<std::mutex> lock(l.mtx);
  if (!l.token)
    l.token = spawn<sync_holder>(in_this_process);
  return *l.token;
}

} // namespace

promise<sync_answer> sync_coordinator::call(std::uint64_t id, std::uint8_t op, bool blocking,
                                            std::int64_t timeout_ns, std::string holder,
                                            actor<sync_holder> token) {
  auto slash = holder.rfind('/');
  if (slash == std::string::npos)
    throw error(errc::bad_argument, "a coordinator call without its holder");
  auto process = holder.substr(0, slash + 1);
  if (!watched_.count(process))
    watched_[process] = self().monitor(token, [this, process](const down&) {
      watched_.erase(process); // a later process with its pid is watched anew
      service_loop().post([process] { state().holder_gone(process); });
    });
  auto deadline = timeout_ns < 0 ? steady::time_point::max()
                                 : steady::now() + std::chrono::nanoseconds(timeout_ns);
  promise<sync_answer> p;
  request r{id, static_cast<sync_op>(op), blocking, deadline, std::move(holder), p};
  service_loop().post([r = std::move(r)]() mutable { state().submit(std::move(r)); });
  return p;
}

std::string coordinate(const std::shared_ptr<shm_segment>& segment, std::size_t offset,
                       sync_kind kind) {
  if (!segment)
    throw error(errc::closed, "this lock, semaphore or event is not attached to shared memory");
  auto& l = lent();
  far_sync f;
  {
    std::lock_guard<std::mutex> lock(l.mtx);
    if (!l.coordinator)
      l.coordinator = spawn<sync_coordinator>(in_this_process);
    auto key = std::make_pair(static_cast<const void*>(segment->data()), offset);
    auto it = l.numbers.find(key);
    if (it == l.numbers.end()) {
      it = l.numbers.emplace(key, l.next++).first;
      l.objects[it->second] = {segment, offset, kind}; // kept: far handles may call
    }
    f = {*l.coordinator, it->second};
  }
  return far_bytes(f);
}

std::string far_bytes(const far_sync& f) {
  return encode(std::make_tuple(f.coordinator, f.id));
}

std::shared_ptr<far_sync> far_from_bytes(const std::string& bytes) {
  auto [coordinator, id] = decode<std::tuple<actor<sync_coordinator>, std::uint64_t>>(bytes);
  return std::make_shared<far_sync>(far_sync{std::move(coordinator), id});
}

sync_answer far_call(const far_sync& f, sync_op op, bool blocking, duration timeout) {
  auto holder = process_key() + std::to_string(::syscall(SYS_gettid));
  std::int64_t ns = timeout == forever
                      ? -1
                      : std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  auto answer = f.coordinator.ask(&sync_coordinator::call, f.id, static_cast<std::uint8_t>(op),
                                  blocking, ns, holder, my_token());
  try {
    return answer.get();
  } catch (const actor_died& e) {
    throw eof_error("the process that lent this lock, semaphore or event to this host is "
                    "gone, or its host cannot be reached: "
                    + std::string(e.what()));
  }
}

} // namespace actors::detail
