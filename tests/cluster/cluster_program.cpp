// The program the cluster tests run on every "host" (a network namespace).
// As a worker it is started by actors-node and never gets past its node's
// constructor. As the root it runs one scenario and prints what it saw:
//
//   cluster_program <scenario> <address> <port> <certdir|plaintext> <hosts>
//
// scenarios:
//   basic      spawn on each other host, ask, tell in order, hosts() lists all
//   host_dies  spawn on h2, which takes a lock of the root's; print READY,
//              wait for its down (the test kills h2's processes), check an
//              ask then fails with actor_died and the lock is free again
//   partition  the same, while the test takes h2's link down
//   rejoin     host_dies, then wait for h2 to join again and use it
//   queue      an unbounded and a bounded queue of the root's used from h2
//              both ways (h2's puts wait while the bounded one is full); a
//              manager dict of the root's set from h2; a pipe end refused
//   map        a pool with workers on both hosts: results in order, and
//              both hosts ran tasks
//   map_host_dies  a map with retries while the test kills h2: every
//              result arrives, the lost tasks ran again on the root
//   sync       a lock, a semaphore and an event of the root's used from h2
//              (through the root's coordinator actor), both sides excluding
//              and waking each other
//   links      an actor on the root linked to one on h2: either one's
//              failure stops the other; a trapping one is told instead
//   three      three hosts: basic on h2 and h3, an actor on h2 asks one on
//              h3, a map runs on all three; then the test kills h3, and h2
//              and the map go on
//   supervise  a supervisor on the root with a child on h2: it fails, is
//              restarted there, and the same handle reaches the new one
//   supervise_host_dies  the same child, then the test kills h2: each
//              restart fails (the host is gone) until the restart limit
//              stops the supervisor; nothing hangs
//   alone      nobody may join (the test's worker is refused): the wait for
//              a second host times out
// Every line the test checks starts with "CHECK ". Exit status 0 means every
// check held.
#include <actors/all.hpp>
#include <actors/cluster.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <set>
#include <thread>
#include <string>

namespace {

struct counter {
  int n = 0;
  std::string log;
  explicit counter(int start) : n(start) {}
  int add(int k) {
    log += std::to_string(k) + ",";
    return n += k;
  }
  std::string order() const { return log; }
  std::string where() const { return actors::cluster::this_host() + "/" + std::to_string(::getpid()); }
  void fail() { throw std::runtime_error("told to fail"); }
};

int failures = 0;

// Would hold a pipe end: it cannot reach another host.
struct pipe_user {
  actors::connection<int> c;
  explicit pipe_user(actors::connection<int> end) : c(std::move(end)) {}
};

// Holds a queue of the root's and uses it from the host it runs on.
struct queue_user {
  actors::queue<int> q;
  explicit queue_user(actors::queue<int> queue) : q(std::move(queue)) {}
  int produce(int n) {
    for (int i = 0; i < n; ++i)
      q.put(i);
    return n;
  }
  long consume(int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i)
      sum += q.get(std::chrono::seconds(10));
    return sum;
  }
  int record(actors::managed_dict<std::string, int> d) {
    d.set(actors::cluster::this_host(), 42);
    return d.size();
  }
  // Puts 0..n-1 into a bounded queue of the root's, waiting while it is full.
  int produce_bounded(actors::queue<int> b, int n) {
    for (int i = 0; i < n; ++i)
      b.put(i, std::chrono::seconds(10));
    return n;
  }
  long consume_bounded(actors::queue<int> b, int n) {
    long sum = 0;
    for (int i = 0; i < n; ++i)
      sum += b.get(std::chrono::seconds(10));
    return sum;
  }
  // Whether a put into the full queue gives up after its timeout.
  bool put_times_out(actors::queue<int> b) { return !b.try_put(99, std::chrono::milliseconds(100)); }
  // Microseconds per put() and get() pair, over n, on an empty queue.
  long pair_us(actors::queue<int> b, int n) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      b.put(i);
      (void) b.get(std::chrono::seconds(10));
    }
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    return static_cast<long>(us.count()) / n;
  }
};

// Uses a lock, a semaphore and an event of the root's from the host it runs on.
struct sync_user {
  actors::mutex m;
  actors::semaphore s;
  actors::event e;
  sync_user(actors::mutex lock, actors::semaphore sem, actors::event ev)
    : m(std::move(lock)), s(std::move(sem)), e(std::move(ev)) {}
  bool try_take() {
    if (!m.acquire(false))
      return false;
    m.release();
    return true;
  }
  // Holds the lock for `ms`, then gives it back.
  bool hold(int ms) {
    if (!m.acquire(true, std::chrono::seconds(10)))
      return false;
    ::usleep(static_cast<useconds_t>(ms) * 1000);
    m.release();
    return true;
  }
  // Takes the lock and keeps it (until this host is gone).
  bool keep() { return m.acquire(true, std::chrono::seconds(10)); }
  bool wait_event(int ms) { return e.wait(std::chrono::milliseconds(ms)); }
  void set_event() { e.set(); }
  bool take_permit() { return s.acquire(false); }
  // Microseconds per uncontended acquire() and release() pair, over n.
  double lock_pair_us(int n) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      m.acquire();
      m.release();
    }
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  }
  unsigned permits() { return s.get_value(); }
};

// Fails when told to; links are tested with it.
struct fragile {
  int ping() { return 1; }
  void fail() { throw std::runtime_error("told to fail"); }
  void trap() {
    actors::self().trap_exit([](const actors::down& d) { trapped_reason() = d.reason.describe(); });
  }
  std::string trapped() { return trapped_reason(); }
  static std::string& trapped_reason() {
    static std::string r;
    return r;
  }
};

// Asks an actor on a third host from the host it runs on.
struct go_between {
  int add_via(actors::actor<counter> c, int k) { return c.ask(&counter::add, k).get(std::chrono::seconds(10)); }
  std::string where() const { return actors::cluster::this_host(); }
};

int square(int x) {
  return x * x;
}

// Which host ran it (after a little work, so every worker gets some).
std::string where_run(int) {
  ::usleep(20000);
  return actors::cluster::this_host();
}

int slow_double(int x) {
  ::usleep(100000);
  return 2 * x;
}

void check(bool ok, const std::string& what) {
  std::cout << "CHECK " << (ok ? "ok " : "FAILED ") << what << std::endl;
  if (!ok)
    ++failures;
}

using namespace std::chrono_literals;

void basic(const std::vector<std::string>& hosts) {
  for (auto& h : hosts) {
    if (h == actors::cluster::this_host())
      continue;
    auto c = actors::spawn<counter>(actors::on_host(h), 10);
    auto where = c.ask(&counter::where).get(10s);
    check(where.rfind(h + "/", 0) == 0, "spawned on " + h + " (it says " + where + ")");
    check(c.ask(&counter::add, 5).get(10s) == 15, "ask on " + h);
    std::string want;
    for (int i = 1; i <= 1000; ++i) {
      c.tell(&counter::add, i);
      want += std::to_string(i) + ",";
    }
    check(c.ask(&counter::order).get(10s) == "5," + want, "1000 tells to " + h + " arrived in order");
    // A handle that travelled back from the other host still works here.
    auto local = actors::spawn<counter>(0);
    check(local.ask(&counter::add, 1).get(10s) == 1, "a local actor beside the cluster");
  }
}

// Waits for the down of `a`; its reason, or "" after 30 s.
template <class T>
std::string down_of(const actors::actor<T>& a) {
  auto p = std::make_shared<std::promise<std::string>>();
  auto got = p->get_future();
  actors::monitor(a, [p](const actors::down& d) { p->set_value(d.reason.describe()); });
  if (got.wait_for(30s) != std::future_status::ready)
    return "";
  return got.get();
}

void links(const std::string& h) {
  // h2's actor fails: the root's linked one stops too.
  auto near = actors::spawn<fragile>(actors::in_this_process);
  auto far = actors::spawn<fragile>(actors::on_host(h));
  actors::link(near, far);
  far.tell(&fragile::fail);
  auto why = down_of(near);
  check(why.find("link") != std::string::npos, "a failure on " + h + " stopped the root's linked actor (" + why + ")");
  // The root's actor fails: the one on h2 stops too.
  near = actors::spawn<fragile>(actors::in_this_process);
  far = actors::spawn<fragile>(actors::on_host(h));
  actors::link(near, far);
  near.tell(&fragile::fail);
  why = down_of(far);
  check(why.find("link") != std::string::npos, "a failure on the root stopped the linked actor on " + h + " (" + why + ")");
  // One that traps exits is told, and goes on.
  near = actors::spawn<fragile>(actors::in_this_process);
  far = actors::spawn<fragile>(actors::on_host(h));
  far.ask(&fragile::trap).get(10s);
  actors::link(near, far);
  near.tell(&fragile::fail);
  std::string told;
  for (int i = 0; i < 300 && told.empty(); ++i) {
    told = far.ask(&fragile::trapped).get(10s);
    std::this_thread::sleep_for(10ms);
  }
  check(!told.empty(), "the trapping actor on " + h + " was told of its link's failure (" + told + ")");
  check(far.ask(&fragile::ping).get(10s) == 1, "and goes on");
}

void sync_across(const std::string& h) {
  actors::mutex m;
  actors::semaphore s(2);
  actors::event e;
  auto u = actors::spawn<sync_user>(actors::on_host(h), m, s, e);
  m.acquire();
  check(!u.ask(&sync_user::try_take).get(10s), h + " cannot take the lock the root holds");
  m.release();
  check(u.ask(&sync_user::try_take).get(10s), h + " takes the lock once the root released it");
  auto held = u.ask(&sync_user::hold, 300);
  std::this_thread::sleep_for(100ms);
  check(!m.acquire(false), "the root cannot take the lock " + h + " holds");
  auto t0 = std::chrono::steady_clock::now();
  check(m.acquire(true, 10s), "the root takes it once " + h + " gave it back");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "LOCK handed over after " << ms << " ms" << std::endl;
  m.release();
  check(held.get(10s), h + " held the lock for 300 ms");
  auto woken = u.ask(&sync_user::wait_event, 10000);
  std::this_thread::sleep_for(100ms);
  e.set();
  check(woken.get(10s), "the root's set() woke the wait on " + h);
  e.clear();
  u.ask(&sync_user::set_event).get(10s);
  check(e.wait(5s), "a set() on " + h + " is seen by the root");
  check(u.ask(&sync_user::take_permit).get(10s), h + " took a permit");
  check(s.get_value() == 1, "the root sees one permit left");
  check(s.acquire(false) && !u.ask(&sync_user::take_permit).get(10s), "none left for " + h + " after the root took the last");
  s.release();
  check(u.ask(&sync_user::permits).get(10s) == 1, h + " sees the permit the root gave back");
  std::cout << "LOCK acquire+release from " << h << ": " << u.ask(&sync_user::lock_pair_us, 200).get(30s)
            << " us a pair" << std::endl;
}

// Spawns on h2, then waits for the test to end h2 (kill or partition).
void host_goes(const std::string& h, const char* how) {
  auto c = actors::spawn<counter>(actors::on_host(h), 0);
  check(c.ask(&counter::add, 1).get(10s) == 1, "ask on " + h + " before it goes");
  actors::mutex m;
  auto u = actors::spawn<sync_user>(actors::on_host(h), m, actors::semaphore(1), actors::event());
  check(u.ask(&sync_user::keep).get(10s) && !m.acquire(false), h + " holds a lock of the root's");
  std::promise<actors::down> p;
  auto got = p.get_future();
  actors::monitor(c, [&p](const actors::down& d) { p.set_value(d); });
  std::cout << "READY " << how << std::endl;
  auto t0 = std::chrono::steady_clock::now();
  if (got.wait_for(30s) != std::future_status::ready) {
    check(false, std::string("the down of the actor on ") + h + " after " + how);
    return;
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  auto d = got.get();
  std::cout << "DOWN after " << ms << " ms: " << d.reason.describe() << std::endl;
  check(true, "the down of the actor on " + h + " arrived");
  try {
    c.ask(&counter::add, 1).get(10s);
    check(false, "an ask to the actor on the lost host fails");
  } catch (const actors::actor_died& e) {
    check(true, std::string("an ask to the actor on the lost host fails: ") + e.what());
  } catch (const std::exception& e) {
    check(false, std::string("an ask to the lost host failed with the wrong error: ") + e.what());
  }
  check(m.acquire(true, 10s), "the lock " + h + " held is free again");
}

} // namespace

int main(int argc, char** argv) {
  actors::node node; // a worker (ACTORS_JOIN set) never returns from here
  if (argc != 6) {
    std::cerr << "usage: cluster_program <scenario> <address> <port> <certdir|plaintext> <hosts>\n";
    return 2;
  }
  std::string scenario = argv[1], address = argv[2], certs = argv[4];
  auto port = static_cast<std::uint16_t>(std::atoi(argv[3]));
  auto want = static_cast<std::size_t>(std::atoi(argv[5]));
  auto opts = actors::cluster::options().name("root");
  if (certs == "plaintext")
    opts.plaintext_on_loopback();
  else
    opts.tls(certs + "/root.pem", certs + "/root.key", certs + "/ca.pem");
  if (const char* hb = std::getenv("CLUSTER_HEARTBEAT_MS"))
    opts.heartbeat(std::chrono::milliseconds(std::atoi(hb)));
  auto bound = actors::cluster::listen(address, port, opts);
  std::cout << "LISTENING " << bound << std::endl;
  if (scenario == "alone") { // the test's worker is refused: nobody joins
    try {
      actors::cluster::wait_for_hosts(want, 10s);
      check(false, "a refused host did not join");
    } catch (const actors::error& e) {
      check(e.code() == actors::errc::timeout, std::string("a refused host did not join: ") + e.what());
    }
    std::cout << (failures ? "FAILED" : "PASSED") << std::endl;
    return failures ? 1 : 0;
  }
  try {
    actors::cluster::wait_for_hosts(want, 60s);
  } catch (const std::exception& e) {
    check(false, std::string("the hosts joined: ") + e.what());
    return 1;
  }
  auto hosts = actors::cluster::hosts();
  std::string all;
  for (auto& h : hosts)
    all += h + " ";
  std::cout << "HOSTS " << all << std::endl;
  check(hosts.size() == want, "hosts() lists " + std::to_string(want) + " hosts");
  if (scenario == "basic") {
    basic(hosts);
  } else if (scenario == "queue") {
    actors::queue<int> q;
    auto u = actors::spawn<queue_user>(actors::on_host("h2"), q);
    check(u.ask(&queue_user::produce, 1000).get(30s) == 1000, "h2 put 1000 items into the root's queue");
    bool in_order = true;
    for (int i = 0; i < 1000 && in_order; ++i)
      in_order = q.get(10s) == i;
    check(in_order, "the root got them in order");
    for (int i = 1; i <= 500; ++i)
      q.put(i);
    check(u.ask(&queue_user::consume, 500).get(30s) == 500L * 501 / 2, "h2 got the 500 items the root put");
    actors::queue<int> b(8);
    auto produced = u.ask(&queue_user::produce_bounded, b, 200);
    std::this_thread::sleep_for(300ms);
    check(b.qsize() == 8, "h2's puts wait while the root's bounded queue is full (" + std::to_string(b.qsize()) + " items)");
    in_order = true;
    for (int i = 0; i < 200 && in_order; ++i)
      in_order = b.get(10s) == i;
    check(in_order && produced.get(30s) == 200, "h2 put 200 items into the root's bounded queue of 8, in order");
    for (int i = 0; i < 8; ++i)
      b.put(i);
    check(u.ask(&queue_user::put_times_out, b).get(30s), "a put from h2 into the full queue times out");
    check(u.ask(&queue_user::consume_bounded, b, 8).get(30s) == 28, "h2 got the 8 items the root put");
    std::cout << "BOUNDED put+get from h2: " << u.ask(&queue_user::pair_us, b, 200).get(60s)
              << " us a pair" << std::endl;
    check(b.qsize() == 0, "the bounded queue is empty again");
    actors::manager m;
    auto d = m.dict<std::string, int>();
    check(u.ask(&queue_user::record, d).get(30s) == 1, "h2 set a key of the root's manager dict");
    check(d.get("h2") == 42, "the root reads what h2 set in its manager dict");
    auto [mine, theirs] = actors::pipe<int>();
    try {
      actors::spawn<pipe_user>(actors::on_host("h2"), theirs);
      check(false, "a pipe end sent to another host is refused");
    } catch (const actors::error& e) {
      check(std::string(e.what()).find("never to another host") != std::string::npos,
            std::string("a pipe end sent to another host is refused: ") + e.what());
    }
  } else if (scenario == "three") {
    basic(hosts);
    auto on3 = actors::spawn<counter>(actors::on_host("h3"), 100);
    auto on2 = actors::spawn<go_between>(actors::on_host("h2"));
    check(on2.ask(&go_between::add_via, on3, 5).get(20s) == 105, "an actor on h2 asked one on h3");
    {
      actors::pool p(actors::pool_options().processes(3).hosts({"root", "h2", "h3"}));
      auto ran = p.map(where_run, std::vector<int>(60, 0), 1);
      std::set<std::string> seen(ran.begin(), ran.end());
      check(seen.size() == 3, "a map ran tasks on all three hosts (" + std::to_string(seen.size()) + " seen)");
    }
    std::cout << "READY three" << std::endl;
    auto why = down_of(on3);
    check(!why.empty(), "the down of h3's actor arrived (" + why + ")");
    check(on2.ask(&go_between::where).get(10s) == "h2", "h2 goes on without h3");
    check(actors::cluster::hosts().size() == 2, "hosts() lists two hosts after h3 is gone");
    actors::pool p(actors::pool_options().processes(2).hosts({"root", "h2"}));
    check(p.map(square, std::vector<int>{1, 2, 3}) == std::vector<int>{1, 4, 9}, "a map on the two hosts left");
  } else if (scenario == "supervise") {
    actors::supervisor sup(actors::supervisor_options().intensity(5, 10s));
    auto c = sup.spawn<counter>(actors::on_host("h2"), actors::child_spec("far-counter"), 10);
    check(c.ask(&counter::add, 5).get(10s) == 15, "a supervised child on h2 answers");
    auto where = c.ask(&counter::where).get(10s);
    check(where.rfind("h2/", 0) == 0, "it runs on h2 (" + where + ")");
    c.tell(&counter::fail);
    for (int i = 0; i < 500 && sup.restarts() < 1; ++i)
      std::this_thread::sleep_for(10ms);
    check(sup.restarts() == 1, "the supervisor restarted it after its failure");
    int after = 0;
    for (int i = 0; i < 100 && after == 0; ++i) {
      try {
        after = c.ask(&counter::add, 1).get(10s);
      } catch (const actors::actor_died&) { // the old one's last moments
        std::this_thread::sleep_for(10ms);
      }
    }
    check(after == 11, "the same handle reaches the new instance on h2, built anew (" + std::to_string(after) + ")");
    where = c.ask(&counter::where).get(10s);
    check(where.rfind("h2/", 0) == 0, "still on h2 (" + where + ")");
    auto gone = std::make_shared<std::promise<void>>();
    actors::monitor(c, [gone](const actors::down&) { gone->set_value(); });
    sup.stop();
    check(gone->get_future().wait_for(10s) == std::future_status::ready, "stop() stopped the child on h2");
  } else if (scenario == "supervise_host_dies") {
    actors::supervisor sup(actors::supervisor_options().intensity(2, 30s));
    auto c = sup.spawn<counter>(actors::on_host("h2"), actors::child_spec("far-counter"), 10);
    check(c.ask(&counter::add, 5).get(10s) == 15, "a supervised child on h2 answers");
    std::cout << "READY supervise_host_dies" << std::endl;
    auto why = sup.join(30s);
    check(why.has_value(), "the supervisor stopped after h2 was lost");
    if (why) {
      std::cout << "SUPERVISOR " << why->describe() << std::endl;
      check(why->describe().find("restart limit") != std::string::npos, "at its restart limit: " + why->describe());
    }
  } else if (scenario == "sync") {
    sync_across("h2");
  } else if (scenario == "links") {
    links("h2");
  } else if (scenario == "map") {
    actors::pool p(actors::pool_options().processes(4).hosts({"root", "h2"}));
    std::vector<int> xs(200);
    for (int i = 0; i < 200; ++i)
      xs[i] = i;
    auto sq = p.map(square, xs);
    bool in_order = sq.size() == 200;
    for (int i = 0; in_order && i < 200; ++i)
      in_order = sq[i] == i * i;
    check(in_order, "a map across two hosts: 200 results in order");
    auto hosts_run = p.map(where_run, std::vector<int>(40, 0), 1);
    std::set<std::string> seen(hosts_run.begin(), hosts_run.end());
    check(seen.count("root") && seen.count("h2"), "tasks ran on both hosts (" + std::to_string(seen.size()) + " seen)");
  } else if (scenario == "map_host_dies") {
    actors::pool p(actors::pool_options().processes(4).hosts({"root", "h2"}).max_retries(3));
    std::vector<int> xs(60);
    for (int i = 0; i < 60; ++i)
      xs[i] = i;
    auto f = p.map_async(slow_double, xs, 1);
    std::this_thread::sleep_for(500ms);
    std::cout << "READY map running" << std::endl;
    try {
      auto out = f.get(60s);
      bool ok = out.size() == 60;
      for (int i = 0; ok && i < 60; ++i)
        ok = out[i] == 2 * i;
      check(ok, "a map survived the loss of a host: 60 results");
    } catch (const std::exception& e) {
      check(false, std::string("a map survived the loss of a host: ") + e.what());
    }
    check(p.map(square, std::vector<int>{1, 2, 3}) == std::vector<int>{1, 4, 9},
          "the pool works on after the host is gone");
  } else if (scenario == "host_dies" || scenario == "partition") {
    host_goes("h2", scenario.c_str());
  } else if (scenario == "rejoin") {
    host_goes("h2", "host_dies");
    std::cout << "WAITING for h2 to rejoin" << std::endl;
    actors::cluster::wait_for_hosts(want, 60s);
    auto c = actors::spawn<counter>(actors::on_host("h2"), 40);
    check(c.ask(&counter::add, 2).get(10s) == 42, "h2 rejoined and serves a new actor");
  } else {
    std::cerr << "unknown scenario " << scenario << "\n";
    return 2;
  }
  std::cout << (failures ? "FAILED" : "PASSED") << std::endl;
  return failures ? 1 : 0;
}
