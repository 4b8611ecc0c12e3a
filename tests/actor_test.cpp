// Actors: spawn, tell/ask, failures, monitors, handles that travel and
// bad frames, with real processes and real kills. What an actor does from
// inside (actor_context.hpp) is in actor_context_test.cpp.

#include "actor_util.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <set>
#include <sys/socket.h>
#include <sys/un.h>

TEST(actor, local_tell_and_ask_keep_order) {
  auto c = actors::spawn<counter>(10);
  for (int i = 0; i < 1000; ++i)
    c.tell(&counter::record, i);
  auto seen = c.ask(&counter::recorded).get(5s);
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(seen[i], i);
  EXPECT_EQ(c.ask(&counter::add, 5).get(5s), 15);
  EXPECT_EQ(c.ask(&counter::pid).get(5s), ::getpid());
}

class actor_in_process : public ::testing::TestWithParam<actors::start_method> {};

TEST_P(actor_in_process, tell_and_ask_cross_the_process_boundary_in_order) {
  auto c = actors::spawn<counter>(actors::in_new_process(GetParam()), 10);
  EXPECT_NE(c.pid(), ::getpid());
  EXPECT_EQ(c.ask(&counter::pid).get(5s), c.pid());
  for (int i = 0; i < 5000; ++i)
    c.tell(&counter::record, i);
  auto seen = c.ask(&counter::recorded).get(10s);
  ASSERT_EQ(seen.size(), 5000u);
  for (int i = 0; i < 5000; ++i)
    ASSERT_EQ(seen[i], i);
  c.tell(&counter::add, 5);
  EXPECT_EQ(c.ask(&counter::get).get(5s), 15);
  // void methods: the ask completes once the method ran
  c.ask(&counter::record, 1).get(5s);
}

// Not `fork`: a process that hosts actors runs threads (CAF's, the
// transport's), and fork() is unsafe once threads run, as Python documents
// too (under ASan a child can inherit an allocator lock held by another
// thread and hang).
INSTANTIATE_TEST_SUITE_P(methods, actor_in_process,
                         ::testing::Values(actors::start_method::forkserver,
                                           actors::start_method::spawn),
                         test_util::method_name);

TEST(actor, a_throwing_ask_fails_its_future_and_the_actor_goes_on) {
  for (bool remote : {false, true}) {
    auto c = remote ? actors::spawn<counter>(actors::in_new_process, 12) : actors::spawn<counter>(12);
    auto f = c.ask(&counter::divide, 0);
    try {
      f.get(5s);
      FAIL() << "expected remote_error";
    } catch (const actors::remote_error& e) {
      EXPECT_EQ(e.type_name(), "std::invalid_argument");
      EXPECT_EQ(e.message(), "division by zero");
      EXPECT_EQ(e.pid(), c.pid());
      EXPECT_NE(e.task().find(c.name()), std::string::npos) << e.task();
      EXPECT_NE(e.task().find("divide"), std::string::npos) << e.task();
    }
    EXPECT_EQ(c.ask(&counter::divide, 4).get(5s), 3) << "the actor keeps its state";
  }
}

TEST(actor, a_throwing_tell_stops_the_actor_and_monitors_hear_why) {
  for (bool remote : {false, true}) {
    auto c = remote ? actors::spawn<counter>(actors::in_new_process) : actors::spawn<counter>();
    auto box = std::make_shared<down_box>();
    actors::monitor(c, [box](const actors::down& d) { box->set(d); });
    c.tell(&counter::fail, std::string("boom"));
    ASSERT_TRUE(box->wait(5000ms));
    EXPECT_EQ(box->d->reason.what, actors::down_reason::kind::exception);
    EXPECT_NE(box->d->reason.message.find("boom"), std::string::npos);
    EXPECT_EQ(box->d->actor, c.name());
  }
}

TEST(actor, asks_to_a_dead_actor_fail_at_once_and_tells_are_counted) {
  for (bool remote : {false, true}) {
    auto c = remote ? actors::spawn<counter>(actors::in_new_process) : actors::spawn<counter>();
    auto box = std::make_shared<down_box>();
    actors::monitor(c, [box](const actors::down& d) { box->set(d); });
    c.tell(&counter::stop);
    ASSERT_TRUE(box->wait(5000ms));
    EXPECT_TRUE(box->d->reason.normal());
    if (remote) { // the process ends with its actor
      ASSERT_TRUE(eventually([&] { return !test_util::alive(c.pid()); }));
    }
    auto t0 = std::chrono::steady_clock::now();
    try {
      c.ask(&counter::get).get(5s);
      FAIL() << "expected actor_died";
    } catch (const actors::actor_died& e) {
      EXPECT_EQ(e.actor(), c.name());
      EXPECT_NE(std::string(e.what()).find(c.name()), std::string::npos);
    }
    EXPECT_LT(test_util::seconds_since(t0), 1.0);
    auto before = actors::dropped_messages();
    c.tell(&counter::add, 1);
    EXPECT_TRUE(eventually([&] { return actors::dropped_messages() > before; }, 2000ms));
  }
}

namespace {
// Sums what it is told and hands the sum over when it stops.
struct tallier {
  actors::queue<int> out;
  int sum = 0;
  explicit tallier(actors::queue<int> q) : out(std::move(q)) {}
  void add(int k) { sum += k; }
  void on_stop() { out.put(sum); }
};
} // namespace

TEST(actor, stop_from_outside_runs_what_came_before_then_on_stop) {
  for (bool remote : {false, true}) {
    actors::queue<int> sums;
    auto t = remote ? actors::spawn<tallier>(actors::in_new_process, sums) : actors::spawn<tallier>(sums);
    auto box = std::make_shared<down_box>();
    actors::monitor(t, [box](const actors::down& d) { box->set(d); });
    for (int i = 1; i <= 100; ++i)
      t.tell(&tallier::add, i);
    actors::stop(t);
    ASSERT_TRUE(box->wait(5000ms));
    EXPECT_TRUE(box->d->reason.normal()) << box->d->reason.message;
    EXPECT_EQ(sums.get(5s), 5050); // every add ran before on_stop
    if (remote) { // the process hosted only this actor: it exits
      ASSERT_TRUE(eventually([&] { return !test_util::alive(t.pid()); }));
    }
    EXPECT_THROW(t.ask(&tallier::add, 1).get(5s), actors::actor_died);
    actors::stop(t); // gone already: nothing happens
  }
  EXPECT_THROW(actors::stop(actors::actor<tallier>()), actors::error);
}

TEST(actor, down_reasons_for_a_killed_and_an_exiting_process) {
  {
    auto c = actors::spawn<counter>(actors::in_new_process);
    auto box = std::make_shared<down_box>();
    actors::monitor(c, [box](const actors::down& d) { box->set(d); });
    auto t0 = std::chrono::steady_clock::now();
    ::kill(c.pid(), SIGKILL);
    ASSERT_TRUE(box->wait(5000ms));
    EXPECT_EQ(box->d->reason.what, actors::down_reason::kind::signal);
    EXPECT_EQ(box->d->reason.signal, SIGKILL);
    // The goal is 10 ms (bench/run measures it); a loaded CI machine gets slack.
    EXPECT_LT(std::chrono::duration<double>(box->at - t0).count(), 1.0);
    auto f = c.ask(&counter::get);
    try {
      f.get(5s);
      FAIL();
    } catch (const actors::actor_died& e) {
      EXPECT_EQ(e.reason().signal, SIGKILL);
    }
  }
  {
    auto c = actors::spawn<counter>(actors::in_new_process);
    auto box = std::make_shared<down_box>();
    actors::monitor(c, [box](const actors::down& d) { box->set(d); });
    auto f = c.ask(&counter::exit_with, 3);
    ASSERT_TRUE(box->wait(5000ms));
    EXPECT_EQ(box->d->reason.what, actors::down_reason::kind::exited);
    EXPECT_EQ(box->d->reason.exitcode, 3);
    EXPECT_THROW(f.get(5s), actors::actor_died);
  }
}

TEST(actor, monitoring_an_actor_that_is_gone_reports_at_once) {
  auto c = actors::spawn<counter>();
  c.ask(&counter::stop).get(5s);
  auto box = std::make_shared<down_box>();
  ASSERT_TRUE(eventually([&] {
    box = std::make_shared<down_box>();
    actors::monitor(c, [box](const actors::down& d) { box->set(d); });
    return box->wait(100ms);
  }));
}

namespace {
void add_through(actors::actor<counter> c, int k) {
  c.ask(&counter::add, k).get(std::chrono::seconds(5));
}
void add_from_queue(actors::queue<actors::actor<counter>> q, int k) {
  q.get().ask(&counter::add, k).get(std::chrono::seconds(5));
}
void add_from_pipe(actors::connection<actors::actor<counter>> in, int k) {
  in.recv().ask(&counter::add, k).get(std::chrono::seconds(5));
}
int add_in_pool(actors::actor<counter> c, int k) {
  return c.ask(&counter::add, k).get(std::chrono::seconds(5));
}
} // namespace

TEST(actor, handles_travel_through_arguments_queues_pipes_and_pool_tasks) {
  for (bool remote : {false, true}) {
    auto c = remote ? actors::spawn<counter>(actors::in_new_process) : actors::spawn<counter>();
    actors::process p1(add_through, c, 1);
    p1.start();
    p1.join();
    EXPECT_EQ(p1.exitcode(), 0);

    actors::queue<actors::actor<counter>> q;
    q.put(c);
    actors::process p2(add_from_queue, q, 10);
    p2.start();
    p2.join();
    EXPECT_EQ(p2.exitcode(), 0);

    auto [mine, theirs] = actors::pipe<actors::actor<counter>>();
    actors::process p3(add_from_pipe, theirs, 100);
    p3.start();
    mine.send(c);
    p3.join();
    EXPECT_EQ(p3.exitcode(), 0);

    actors::pool pool(2);
    auto total = pool.apply(add_in_pool, c, 1000);
    EXPECT_EQ(total, 1111);
    EXPECT_EQ(c.ask(&counter::get).get(5s), 1111);
  }
}

TEST(actor, siblings_talk_to_each_other_and_handles_ride_in_messages) {
  auto a = actors::spawn<counter>(actors::in_new_process, 1);
  auto r = actors::spawn<relay>(actors::in_new_process);
  // r (a sibling of a) asks a directly, with a handle it got in a message
  EXPECT_EQ(r.ask(&relay::forward, a, 2).get(5s), 30);
  // spawn into the process of an existing actor
  auto b = actors::spawn<counter>(actors::in_process_of(a), 5);
  EXPECT_EQ(b.pid(), a.pid());
  EXPECT_EQ(b.ask(&counter::pid).get(5s), a.pid());
}

namespace {

// A plain child: it waits for a word on its pipe, then returns.
void wait_for_word(actors::connection<int> in) {
  (void) in.recv(30s);
}

// In a fresh node that never used actors: a child it starts does not host
// them, and spawning into it says why. Exit 0 when it did.
void spawn_into_a_child_started_too_early() {
  auto [mine, theirs] = actors::pipe<int>();
  actors::process p(wait_for_word, theirs);
  p.start();
  int code = 3;
  try {
    (void) actors::spawn<counter>(actors::in_process_of(p), 1);
    code = 1;
  } catch (const actors::error& e) {
    code = e.value() == actors::errc::bad_argument
               && std::string(e.what()).find("before this program used actors") != std::string::npos
             ? 0
             : 2;
  }
  mine.send(1);
  p.join(10s);
  throw actors::system_exit(code);
}

} // namespace

TEST_P(actor_in_process, spawn_into_a_running_child_through_its_process_handle) {
  (void) actors::system(); // this program uses actors: its children host them
  auto [mine, theirs] = actors::pipe<int>();
  actors::process p(wait_for_word, theirs);
  p.method(GetParam());
  p.start();
  auto c = actors::spawn<counter>(actors::in_process_of(p), 7);
  EXPECT_EQ(c.pid(), p.pid());
  EXPECT_EQ(c.ask(&counter::pid).get(5s), p.pid());
  c.tell(&counter::add, 3);
  EXPECT_EQ(c.ask(&counter::get).get(5s), 10);
  auto d = actors::spawn<counter>(actors::in_process_of(p), 1);
  EXPECT_EQ(d.pid(), p.pid());
  EXPECT_NE(c, d);
  // The actors stop when the child's target returns.
  auto box = std::make_shared<down_box>();
  actors::monitor(c, [box](const actors::down& x) { box->set(x); });
  mine.send(1);
  p.join(10s);
  EXPECT_EQ(p.exitcode(), 0);
  ASSERT_TRUE(box->wait(5000ms));
  EXPECT_THROW(c.ask(&counter::get).get(5s), actors::actor_died);
  // Nothing can be spawned into a process that has exited.
  try {
    (void) actors::spawn<counter>(actors::in_process_of(p), 1);
    ADD_FAILURE() << "spawned into an exited process";
  } catch (const actors::error& e) {
    EXPECT_EQ(e.value(), actors::errc::eof) << e.what();
  }
}

TEST(actor, spawn_into_this_process_or_the_parent_through_their_handles) {
  auto here = actors::spawn<counter>(actors::in_process_of(actors::current_process()), 2);
  EXPECT_EQ(here.pid(), ::getpid());
  EXPECT_EQ(here.ask(&counter::get).get(5s), 2);
  // A child spawns an actor into its parent (this process).
  auto [mine, theirs] = actors::pipe<actors::actor<counter>>();
  actors::process p(+[](actors::connection<actors::actor<counter>> out) {
    out.send(actors::spawn<counter>(actors::in_process_of(*actors::parent_process()), 4));
  }, theirs);
  p.start();
  auto c = mine.recv(10s);
  p.join(10s);
  EXPECT_EQ(c.pid(), ::getpid());
  EXPECT_EQ(c.ask(&counter::get).get(5s), 4);
}

TEST(actor, a_child_started_before_any_actor_does_not_host_and_says_so) {
  actors::process p(spawn_into_a_child_started_too_early);
  p.start();
  p.join(30s);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(actor, handles_compare_and_reject_the_wrong_type) {
  auto c = actors::spawn<counter>();
  auto d = c;
  EXPECT_EQ(c, d);
  EXPECT_NE(c, actors::spawn<counter>());
  actors::actor<counter> empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(test_util::error_of([&] { empty.tell(&counter::add, 1); }), actors::errc::bad_argument);
  auto bytes = actors::detail::encode(c);
  EXPECT_EQ(test_util::error_of([&] { actors::detail::decode<actors::actor<other>>(bytes); }),
            actors::errc::bad_payload);
}


TEST(actor, garbage_on_the_endpoint_closes_that_connection_only) {
  auto c = actors::spawn<counter>(actors::in_new_process, 9);
  std::string endpoint = actors::detail::handle_access::ref(c)->address.endpoint;
  for (int round = 0; round < 3; ++round) {
    int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, endpoint.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::string garbage = round == 0 ? std::string(64, '\xff') : std::string("\x05\x00\x00\x00\x00\x00\x02\xac\x40zz", 11);
    (void) !::write(s, garbage.data(), garbage.size());
    ::close(s);
  }
  EXPECT_EQ(c.ask(&counter::get).get(5s), 9);
}

TEST(actor, a_message_that_does_not_decode_fails_only_that_ask) {
  auto c = actors::spawn<counter>(actors::in_new_process, 9);
  std::string endpoint = actors::detail::handle_access::ref(c)->address.endpoint;
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, endpoint.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto header = actors::detail::call_header_for<counter, decltype(&counter::add)>(&counter::add);
  std::string body(1, '\x40');
  auto put = [&body](auto v) { body.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(actors::detail::handle_access::ref(c)->address.id);
  put(std::uint64_t(77));
  put(static_cast<std::uint16_t>(header.size()));
  body += header;
  body += "x"; // an int needs 4 bytes
  std::string frame(8, '\0');
  std::uint32_t n = static_cast<std::uint32_t>(body.size());
  std::memcpy(frame.data(), &n, 4);
  frame[6] = 2;
  frame[7] = '\xac';
  frame += body;
  ASSERT_EQ(::write(s, frame.data(), frame.size()), static_cast<ssize_t>(frame.size()));
  char reply[512];
  timeval tv{5, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto got = ::read(s, reply, sizeof reply);
  ASSERT_GT(got, 18);
  EXPECT_EQ(reply[8], '\x41'); // a reply
  EXPECT_EQ(reply[17], 1);     // ... with an error
  ::close(s);
  EXPECT_EQ(c.ask(&counter::add, 1).get(5s), 10) << "the actor and the node go on";
}

TEST(actor, asks_queued_behind_a_stop_fail_instead_of_hanging) {
  for (bool remote : {false, true}) {
    auto c = remote ? actors::spawn<counter>(actors::in_new_process) : actors::spawn<counter>();
    auto other = remote ? actors::spawn<counter>(actors::in_process_of(c), 1) : actors::spawn<counter>(1);
    std::vector<actors::future<int>> fs;
    c.tell(&counter::stop);
    for (int i = 0; i < 50; ++i)
      fs.push_back(c.ask(&counter::get));
    int died = 0;
    for (auto& f : fs) {
      try {
        f.get(5s);
      } catch (const actors::actor_died&) {
        ++died;
      }
    }
    EXPECT_EQ(died, 50);
    // the process goes on hosting its other actor
    EXPECT_EQ(other.ask(&counter::get).get(5s), 1);
  }
}


// -- bounded mailboxes ----------------------------------------------------------

namespace {

// A consumer that can be made slower than its producers. An event travels
// only with a process's arguments, so the gate comes with the constructor.
struct sink {
  std::int64_t work_ns = 0; // busy time per put()
  std::int64_t n = 0;
  actors::event gate;
  bool ticking = false;
  sink() = default;
  sink(std::int64_t work, actors::event g, bool tick = false)
    : work_ns(work), gate(std::move(g)), ticking(tick) {}
  // A timer, as many actors have: its ticks come from CAF's clock, so the
  // actor also runs on a scheduler worker, not only on the loop that reads
  // its connection.
  void on_start() {
    if (ticking)
      actors::self().every(1ms, [] {});
  }
  static void spin(std::int64_t ns) {
    auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
    while (std::chrono::steady_clock::now() < end) {
    }
  }
  void put(std::string payload) {
    n += !payload.empty();
    spin(work_ns);
  }
  void busy(int ms) { spin(std::int64_t(ms) * 1000000); }
  void exit_after(int ms) {
    busy(ms);
    ::_exit(3);
  }
  // Keeps the actor (and its place in the mailbox) until the gate opens.
  void hold() { gate.wait(20s); }
  std::int64_t count() const { return n; }
};

actors::actor<sink> spawn_sink(bool remote, const actors::mailbox_options& box,
                               actors::event gate = {}) {
  return remote ? actors::spawn<sink>(actors::in_new_process.mailbox(box), 0, gate)
                : actors::spawn<sink>(actors::in_this_process.mailbox(box), 0, gate);
}

// A "VmRSS:"-like line of /proc/<pid>/status, in kB (-1 if missing).
long status_kb(int pid, const std::string& key) {
  auto text = test_util::read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = text.find(key);
  return at == std::string::npos ? -1 : std::atol(text.c_str() + at + key.size());
}

} // namespace

TEST(actor, a_full_bounded_mailbox_fails_tell_and_ask_with_queue_full) {
  for (bool remote : {false, true}) {
    SCOPED_TRACE(remote ? "actor in another process" : "actor in this process");
    actors::event gate;
    auto s = spawn_sink(remote, {4, actors::on_full::fail}, gate);
    EXPECT_EQ(s.mailbox().capacity, 4u);
    s.tell(&sink::hold); // runs, and keeps its place until the gate opens
    for (int i = 0; i < 3; ++i)
      s.tell(&sink::put, std::string("accepted"));
    try {
      s.tell(&sink::put, std::string("refused"));
      ADD_FAILURE() << "a tell to a full mailbox with on_full::fail went through";
    } catch (const actors::queue_full& e) {
      std::string what = e.what();
      EXPECT_EQ(e.value(), actors::errc::queue_full);
      EXPECT_NE(what.find(s.name()), std::string::npos) << what;
      EXPECT_NE(what.find("capacity 4"), std::string::npos) << what;
    }
    EXPECT_FALSE(s.try_tell(&sink::put, std::string("refused")));
    auto f = s.ask(&sink::count);
    EXPECT_EQ(test_util::error_of([&] { f.get(5s); }), actors::errc::queue_full);
    gate.set();
    // Room comes back as messages run; exactly the accepted puts ran.
    std::int64_t n = -1;
    EXPECT_TRUE(eventually([&] {
      try {
        n = s.ask(&sink::count).get(5s);
        return true;
      } catch (const actors::queue_full&) {
        return false;
      }
    }));
    EXPECT_EQ(n, 3);
    EXPECT_TRUE(s.try_tell(&sink::put, std::string("later")));
    EXPECT_EQ(s.ask(&sink::count).get(5s), 4);
    // in_process_of takes a bound too; the default stays unbounded
    auto beside = actors::spawn<counter>(actors::in_process_of(s).mailbox(7, actors::on_full::fail));
    EXPECT_EQ(beside.pid(), s.pid());
    EXPECT_EQ(beside.mailbox().capacity, 7u);
    EXPECT_EQ(beside.mailbox().when_full, actors::on_full::fail);
    EXPECT_EQ(beside.ask(&counter::add, 2).get(5s), 2);
    auto free = remote ? actors::spawn<counter>(actors::in_new_process) : actors::spawn<counter>();
    EXPECT_FALSE(free.mailbox().bounded());
    EXPECT_TRUE(free.try_tell(&counter::add, 1));
  }
}

TEST(actor, a_full_bounded_mailbox_blocks_tell_until_room_or_its_timeout) {
  for (bool remote : {false, true}) {
    SCOPED_TRACE(remote ? "actor in another process" : "actor in this process");
    // Room comes: the actor is busy for 300 ms, the third tell waits for it.
    auto s = spawn_sink(remote, {2, actors::on_full::block, 20s});
    s.tell(&sink::busy, 300);
    s.tell(&sink::put, std::string("a"));
    auto t0 = std::chrono::steady_clock::now();
    s.tell(&sink::put, std::string("b"));
    auto waited = test_util::seconds_since(t0);
    EXPECT_GT(waited, 0.15) << "the tell did not wait for room";
    EXPECT_LT(waited, 10.0);
    EXPECT_EQ(s.ask(&sink::count).get(10s), 2);

    // No room within the timeout: tell throws, ask's future fails, both
    // after waiting; nothing was sent.
    actors::event gate;
    auto t = spawn_sink(remote, {1, actors::on_full::block, 300ms}, gate);
    t.tell(&sink::hold);
    t0 = std::chrono::steady_clock::now();
    try {
      t.tell(&sink::put, std::string("late"));
      ADD_FAILURE() << "a tell to a full mailbox went through";
    } catch (const actors::queue_full& e) {
      std::string what = e.what();
      EXPECT_NE(what.find("timeout of 300 ms"), std::string::npos) << what;
    }
    waited = test_util::seconds_since(t0);
    EXPECT_GT(waited, 0.25);
    EXPECT_LT(waited, 10.0);
    auto f = t.ask(&sink::count);
    EXPECT_EQ(test_util::error_of([&] { f.get(5s); }), actors::errc::queue_full);
    gate.set();
    std::int64_t n = -1;
    EXPECT_TRUE(eventually([&] {
      try {
        n = t.ask(&sink::count).get(5s);
        return true;
      } catch (const actors::queue_full&) {
        return false;
      }
    }));
    EXPECT_EQ(n, 0) << "a refused tell ran";
  }
}

TEST(actor, a_sender_waiting_for_room_wakes_when_the_actor_s_process_dies) {
  auto s = spawn_sink(true, {1, actors::on_full::block, 30s});
  s.tell(&sink::exit_after, 300); // holds the one place, then the process exits
  auto t0 = std::chrono::steady_clock::now();
  s.tell(&sink::put, std::string("waits, then is dropped"));
  EXPECT_LT(test_util::seconds_since(t0), 10.0) << "the sender waited past the death";
  auto f = s.ask(&sink::count);
  try {
    f.get(10s);
    ADD_FAILURE() << "an ask to a dead actor succeeded";
  } catch (const actors::actor_died& e) {
    EXPECT_EQ(e.reason().what, actors::down_reason::kind::exited) << e.what();
  }
}

TEST(actor, an_actor_waiting_on_its_own_full_mailbox_fails_at_once) {
  struct self_teller {
    int n = 0;
    // Fills its own mailbox (capacity 2, on_full::block), then one more:
    // that would wait for itself.
    std::string flood() {
      auto me = actors::self().handle(this);
      try {
        for (int i = 0; i < 3; ++i)
          me.tell(&self_teller::bump);
      } catch (const actors::queue_full& e) {
        return e.what();
      }
      return "no error";
    }
    void bump() { ++n; }
  };
  auto a = actors::spawn<self_teller>(actors::in_this_process.mailbox(2, actors::on_full::block, 20s));
  auto t0 = std::chrono::steady_clock::now();
  auto what = a.ask(&self_teller::flood).get(10s);
  EXPECT_LT(test_util::seconds_since(t0), 5.0);
  EXPECT_NE(what.find("may not wait"), std::string::npos) << what;
}

// The receiver's memory: a sender floods 1 M tells of 200 bytes at an actor
// in another process that needs 5 us for each (and has a timer). With a
// bound of 1000 the sender waits for room and the actor's process stays
// small; the same flood at an unbounded actor grows its process by the
// messages it has not run (checked too, so the test shows the difference
// the bound makes and would fail without it).
TEST(actor, a_bounded_mailbox_keeps_the_memory_of_a_flooded_actor_bounded) {
#ifdef __SANITIZE_ADDRESS__
  // ASan keeps freed memory in quarantine (hundreds of MB), so a process's
  // RSS says nothing about how many messages it holds.
  GTEST_SKIP() << "RSS is not a measure of live messages under AddressSanitizer; the plain "
                  "build runs this test";
#endif
  const long n = 1000000;
  const std::string payload(200, 'p');
  const std::int64_t work_ns = 5000;
  auto flood = [&](const actors::actor<sink>& s) {
    for (long i = 0; i < n; ++i)
      s.tell(&sink::put, payload);
  };

  actors::event unused;
  auto b = actors::spawn<sink>(actors::in_new_process.mailbox(1000), work_ns, unused, true);
  b.ask(&sink::count).get(5s);
  long base = status_kb(b.pid(), "VmRSS:");
  auto t0 = std::chrono::steady_clock::now();
  flood(b);
  EXPECT_EQ(b.ask(&sink::count).get(40s), n) << "every tell ran, none was lost";
  double secs = test_util::seconds_since(t0);
  long bounded_growth = status_kb(b.pid(), "VmHWM:") - base;

  auto u = actors::spawn<sink>(actors::in_new_process, work_ns, unused, true);
  u.ask(&sink::count).get(5s);
  long ubase = status_kb(u.pid(), "VmRSS:");
  flood(u);
  long unbounded_growth = status_kb(u.pid(), "VmHWM:") - ubase;
  ::kill(u.pid(), SIGKILL);

  std::printf("[ figures  ] receiver RSS growth: bounded (1000) %ld kB, unbounded %ld kB; "
              "bounded flood %.2f s (%.0f msgs/s)\n",
              bounded_growth, unbounded_growth, secs, n / secs);
  EXPECT_GT(base, 0);
  EXPECT_LT(bounded_growth, 32 * 1024) << "the bounded actor's process grew";
  // The control: without a bound the flood piles up in the receiver. It
  // does not always: when the actor runs on the transport's inbound loop,
  // the loop reads no more frames until the method returns, and the socket
  // itself holds the sender back. Then this run cannot tell a bound from
  // none, and says so instead of failing.
  if (unbounded_growth <= 64 * 1024)
    std::printf("[ note     ] the flood did not outrun the unbounded actor (socket backpressure); "
                "this run does not show the bound's effect\n");
}

namespace {
// Asks another actor and waits for the answer inside its own method.
struct waiting_relay {
  actors::actor<counter> next;
  explicit waiting_relay(actors::actor<counter> n) : next(std::move(n)) {}
  int forward(int k) { return next.ask(&counter::add, k).get(10s); }
};
} // namespace

// A method that waits for an ask it just sent: the ask leaves at once, not
// at the end of the batch of the loop that runs the method (which is this
// very wait). It once waited forever when the method ran on a loop.
TEST(actor, a_method_may_wait_for_an_ask_to_another_process) {
  auto c = actors::spawn<counter>(actors::in_new_process, 0);
  for (auto where : {0, 1}) {
    auto r = where == 0 ? actors::spawn<waiting_relay>(actors::in_new_process, c)
                        : actors::spawn<waiting_relay>(actors::in_this_process, c);
    EXPECT_EQ(r.ask(&waiting_relay::forward, 2).get(20s) % 2, 0) << where;
    for (int i = 0; i < 20; ++i)
      r.tell(&waiting_relay::forward, 2);
    EXPECT_EQ(r.ask(&waiting_relay::forward, 2).get(20s), (where + 1) * 44) << where;
  }
}
