// The queue server's state machine, driven frame by frame: each test opens
// bare connections to the node's socket and speaks the queue's wire
// (queue/wire.hpp) as a client would, or as a broken one would. No child
// process: a "consumer that dies" is a connection closed with items fetched.

#include "test_util.hpp"

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "queue/ring.hpp"
#include "queue/server.hpp"
#include "queue/wire.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace actors::detail;
using namespace actors::detail::queue_wire;

// One connection to a queue, as a client holds it.
class wire_client {
public:
  explicit wire_client(const queue_address& a) : fd_(connect_unix(a.path)) {
    EXPECT_TRUE(fd_) << "connect to " << a.path;
    std::string hello(1, static_cast<char>(op_hello));
    put_u32(hello, a.id);
    send(hello);
  }

  void send(const std::string& payload) {
    EXPECT_TRUE(send_frame(fd_.get(), frame_kind::object, payload.data(), payload.size(), {}));
  }

  // The next reply, or nullopt if none comes within `timeout` (or the
  // server closed the connection: see closed()).
  std::optional<std::string> reply(actors::duration timeout = 5s) {
    frame_header h;
    std::string payload, why;
    std::vector<int> fds;
    auto st = recv_frame(fd_.get(), h, payload, fds, timeout, why);
    if (st == recv_status::eof)
      closed_ = true;
    if (st != recv_status::ok)
      return std::nullopt;
    return payload;
  }

  // True once the server has closed this connection (waits up to 5 s).
  bool closed() {
    while (!closed_ && reply(5s)) {
    }
    return closed_;
  }

  void put(const std::vector<std::string>& items) {
    std::string p(1, static_cast<char>(op_put));
    put_u32(p, static_cast<std::uint32_t>(items.size()));
    for (auto& i : items)
      append_item(p, i);
    send(p);
  }

  void ask_get(std::uint32_t max, std::uint32_t acks, bool nowait) {
    std::string p(1, static_cast<char>(op_get));
    put_u32(p, max);
    put_u32(p, acks);
    p += nowait ? '\1' : '\0';
    send(p);
  }

  // A get reply's items; nullopt if the reply is not one.
  std::optional<std::vector<std::string>> items(actors::duration timeout = 5s) {
    auto r = reply(timeout);
    if (!r || r->empty() || static_cast<op>((*r)[0]) != op_get)
      return std::nullopt;
    reader rd{r->data() + 1, r->data() + r->size()};
    std::vector<std::string> out(rd.u32());
    for (auto& i : out)
      if (!rd.item(i))
        return std::nullopt;
    return out;
  }

  std::vector<std::string> get(std::uint32_t max, std::uint32_t acks = 0) {
    ask_get(max, acks, false);
    return items().value_or(std::vector<std::string>{"<no reply>"});
  }

  void op_with_u32(op code, std::uint32_t n) {
    std::string p(1, static_cast<char>(code));
    put_u32(p, n);
    send(p);
  }

  // The queue's size (a size request answered on this connection).
  std::uint64_t size() {
    send(std::string(1, static_cast<char>(op_size)));
    auto r = reply();
    EXPECT_TRUE(r && !r->empty() && static_cast<op>((*r)[0]) == op_size);
    if (!r || r->size() < 9)
      return ~std::uint64_t{0};
    reader rd{r->data() + 1, r->data() + r->size()};
    return rd.u64();
  }

  void close() { fd_.reset(); }
  int fd() const { return fd_.get(); }

private:
  unique_fd fd_;
  bool closed_ = false;
};

using items = std::vector<std::string>;

// True once the queue holds `n` items, as seen by `c`: what another
// connection's close gives back is counted when the server has seen it.
bool size_becomes(wire_client& c, std::uint64_t n) {
  for (auto end = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < end;) {
    if (c.size() == n)
      return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

TEST(queue_server, items_come_out_in_the_order_they_went_in) {
  auto a = create_on_node_server(0, false);
  wire_client producer(a), consumer(a);
  producer.put({"a", "b", "c"});
  producer.put({"d"});
  EXPECT_EQ(producer.size(), 4u);
  EXPECT_EQ(consumer.get(2), (items{"a", "b"}));
  EXPECT_EQ(consumer.get(10, 2), (items{"c", "d"}));
  EXPECT_EQ(producer.size(), 0u);
}

TEST(queue_server, a_get_waits_for_an_item_and_a_nowait_get_does_not) {
  auto a = create_on_node_server(0, false);
  wire_client producer(a), consumer(a);
  consumer.ask_get(1, 0, true);
  EXPECT_EQ(consumer.items(), items{}) << "nowait on an empty queue: none, at once";
  consumer.ask_get(1, 0, false);
  EXPECT_EQ(consumer.reply(100ms), std::nullopt) << "a get waits at the server";
  producer.put({"x"});
  EXPECT_EQ(consumer.items(), items{"x"});
}

TEST(queue_server, a_cancelled_get_is_answered_empty_then_cancelled) {
  auto a = create_on_node_server(0, false);
  wire_client consumer(a), producer(a);
  consumer.ask_get(1, 0, false);
  consumer.send(std::string(1, static_cast<char>(op_cancel)));
  EXPECT_EQ(consumer.items(), items{});
  auto r = consumer.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_cancelled);
  producer.put({"kept"});
  EXPECT_EQ(producer.size(), 1u) << "the withdrawn get took nothing";
}

TEST(queue_server, a_consumer_that_goes_away_gives_back_what_it_did_not_take) {
  auto a = create_on_node_server(0, false);
  wire_client producer(a), other(a);
  producer.put({"1", "2", "3", "4"});
  {
    wire_client dying(a);
    EXPECT_EQ(dying.get(3), (items{"1", "2", "3"}));
    dying.op_with_u32(op_ack, 1); // get() returned "1"
    EXPECT_EQ(dying.size(), 1u);
    dying.close();
  }
  ASSERT_TRUE(size_becomes(other, 3));
  // Back at the head, in their order, ahead of what was never fetched.
  EXPECT_EQ(other.get(10), (items{"2", "3", "4"}));
}

TEST(queue_server, a_release_keeps_the_acked_and_returns_the_rest) {
  auto a = create_on_node_server(0, false);
  wire_client producer(a), consumer(a);
  producer.put({"1", "2", "3"});
  EXPECT_EQ(consumer.get(3), (items{"1", "2", "3"}));
  consumer.op_with_u32(op_release, 2);
  EXPECT_EQ(consumer.size(), 1u);
  EXPECT_EQ(consumer.get(3), items{"3"});
}

// -- bounded queues: the ring's connection --------------------------------------

// Attaches as a client of a bounded queue does: the ring's descriptor and
// the record the server gave.
struct attached {
  std::unique_ptr<ring> rng;
  int record = -2;
};

attached attach(wire_client& c) {
  c.send(std::string(1, static_cast<char>(op_attach)));
  attached out;
  frame_header h;
  std::string payload, why;
  std::vector<int> fds;
  auto st = recv_frame(c.fd(), h, payload, fds, 5s, why);
  EXPECT_EQ(st, recv_status::ok) << why;
  if (st != recv_status::ok || fds.size() != 1 || payload.size() < 5) {
    ADD_FAILURE() << "no ring came with the attach reply";
    return out;
  }
  EXPECT_EQ(static_cast<op>(payload[0]), op_attach);
  reader r{payload.data() + 1, payload.data() + payload.size()};
  out.record = static_cast<int>(r.u32());
  out.rng = std::make_unique<ring>(unique_fd(fds[0]));
  return out;
}

const auto far = [] { return std::chrono::steady_clock::now() + 5s; };

TEST(queue_server, a_bounded_queue_hands_out_one_ring_that_all_clients_share) {
  auto a = create_on_node_server(2, false);
  wire_client p(a), g(a);
  auto producer = attach(p), consumer = attach(g);
  ASSERT_TRUE(producer.rng && consumer.rng);
  EXPECT_EQ(producer.record, -1) << "records are for joinable queues";
  ASSERT_EQ(producer.rng->put("a", 1, far(), {}), ring::result::ok);
  ASSERT_EQ(producer.rng->put("b", 1, far(), {}), ring::result::ok);
  EXPECT_EQ(producer.rng->put("c", 1, std::chrono::steady_clock::now(), {}), ring::result::timeout)
    << "maxsize 2";
  std::string item;
  ASSERT_EQ(consumer.rng->get(item, far(), {}, -1), ring::result::ok);
  EXPECT_EQ(item, "a");
  EXPECT_EQ(consumer.rng->size(), 1u);
}

TEST(queue_server, a_watcher_hears_of_the_first_item_and_an_unwatch_ends_the_watch) {
  auto a = create_on_node_server(4, false);
  wire_client p(a), w(a);
  auto producer = attach(p), watcher = attach(w);
  ASSERT_TRUE(producer.rng && watcher.rng);
  w.send(std::string(1, static_cast<char>(op_watch)));
  EXPECT_EQ(w.reply(200ms), std::nullopt) << "the queue is empty";
  ASSERT_EQ(producer.rng->put("x", 1, far(), {}), ring::result::ok);
  EXPECT_EQ(producer.rng->watchers().load(), 1u);
  p.send(std::string(1, static_cast<char>(op_poke)));
  auto r = w.reply();
  ASSERT_TRUE(r && !r->empty());
  EXPECT_EQ(static_cast<op>((*r)[0]), op_ready);
  EXPECT_EQ(producer.rng->watchers().load(), 0u);
  // A watch on a queue with an item is answered at once; an unwatch after
  // the answer is answered too, so the client can read up to it.
  w.send(std::string(1, static_cast<char>(op_watch)));
  w.send(std::string(1, static_cast<char>(op_unwatch)));
  r = w.reply();
  ASSERT_TRUE(r && !r->empty());
  EXPECT_EQ(static_cast<op>((*r)[0]), op_ready);
  r = w.reply();
  ASSERT_TRUE(r && !r->empty());
  EXPECT_EQ(static_cast<op>((*r)[0]), op_unwatched);
}

TEST(queue_server, a_joinable_ring_fails_join_for_a_client_that_left_items_unfinished) {
  auto a = create_on_node_server(4, true);
  wire_client p(a), j(a);
  auto producer = attach(p), joiner = attach(j);
  ASSERT_TRUE(producer.rng && joiner.rng);
  ASSERT_EQ(producer.rng->put("1", 1, far(), {}), ring::result::ok);
  ASSERT_EQ(producer.rng->put("2", 1, far(), {}), ring::result::ok);
  {
    wire_client d(a);
    auto dying = attach(d);
    ASSERT_TRUE(dying.rng);
    EXPECT_GE(dying.record, 0);
    std::string item;
    ASSERT_EQ(dying.rng->get(item, far(), {}, dying.record), ring::result::ok);
    ASSERT_EQ(dying.rng->get(item, far(), {}, dying.record), ring::result::ok);
    dying.rng->task_done(dying.record); // one done, one not
    d.close();
  }
  std::string why;
  EXPECT_EQ(joiner.rng->join(far(), {}, why), ring::result::abandoned);
  EXPECT_NE(why.find("died holding 1 unfinished"), std::string::npos) << why;
  EXPECT_EQ(joiner.rng->join(far(), {}, why), ring::result::ok)
    << "the lost item counts as done once reported";
}

TEST(queue_server, a_bounded_queue_refuses_the_relay_s_requests_and_a_second_attach) {
  auto a = create_on_node_server(4, false);
  const std::vector<std::string> bad = {
    std::string(1, static_cast<char>(op_put)) + std::string("\x01\0\0\0\x01\0\0\0x", 9),
    std::string(1, static_cast<char>(op_get)) + std::string("\x01\0\0\0\0\0\0\0\0", 9),
    std::string(1, '\x7f'),
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    wire_client broken(a);
    broken.send(bad[i]);
    EXPECT_TRUE(broken.closed()) << "bad request " << i;
  }
  wire_client twice(a);
  auto first = attach(twice);
  ASSERT_TRUE(first.rng);
  twice.send(std::string(1, static_cast<char>(op_attach)));
  EXPECT_TRUE(twice.closed());
  wire_client good(a);
  EXPECT_TRUE(attach(good).rng) << "the queue goes on";
}

// A client on another host cannot map the ring: the server puts and gets
// for it (queue/server_far.cpp), one answer per call.
TEST(queue_server, a_bounded_queue_serves_a_far_client_and_cancels_its_waits) {
  auto a = create_on_node_server(1, false);
  wire_client c(a);
  auto status = [](const std::optional<std::string>& r, op code) {
    return r && r->size() >= 2 && static_cast<op>((*r)[0]) == code ? (*r)[1] : '?';
  };
  c.send(std::string(1, static_cast<char>(op_far_put)) + "one");
  EXPECT_EQ(status(c.reply(), op_far_put), '\1');
  c.send(std::string(1, static_cast<char>(op_size)));
  auto r = c.reply();
  ASSERT_TRUE(r);
  reader rd{r->data() + 1, r->data() + r->size()};
  EXPECT_EQ(rd.u64(), 1u);
  EXPECT_EQ(rd.u64(), 1u) << "maxsize";
  c.send(std::string(1, static_cast<char>(op_far_put)) + "two"); // full: waits
  EXPECT_FALSE(c.reply(50ms));
  c.send(std::string(1, static_cast<char>(op_cancel)));
  EXPECT_EQ(status(c.reply(), op_far_put), '\0') << "not put";
  r = c.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_cancelled);
  c.send(std::string(1, static_cast<char>(op_far_get)));
  r = c.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, std::string(1, static_cast<char>(op_far_get)) + "\1one");
  c.send(std::string(1, static_cast<char>(op_far_get))); // empty: waits
  EXPECT_FALSE(c.reply(50ms));
  wire_client other(a);
  other.send(std::string(1, static_cast<char>(op_far_put)) + "three");
  EXPECT_EQ(status(other.reply(), op_far_put), '\1');
  r = c.reply();
  ASSERT_TRUE(r) << "the waiting get was served";
  EXPECT_EQ(*r, std::string(1, static_cast<char>(op_far_get)) + "\1three");
  wire_client twice(a);
  twice.send(std::string(1, static_cast<char>(op_far_get)));
  twice.send(std::string(1, static_cast<char>(op_far_get)));
  EXPECT_TRUE(twice.closed()) << "a second call before the first's answer is refused";
}

TEST(queue_server, a_hello_naming_pid_0_is_refused) {
  auto a = create_on_node_server(1, true);
  auto fd = connect_unix(a.path);
  ASSERT_TRUE(fd);
  std::string hello(1, static_cast<char>(op_hello));
  put_u32(hello, a.id);
  put_u32(hello, 0); // pid 0 marks a free record in the ring
  hello += "h2";
  ASSERT_TRUE(send_frame(fd.get(), frame_kind::object, hello.data(), hello.size(), {}));
  frame_header h;
  std::string payload, why;
  std::vector<int> fds;
  EXPECT_EQ(recv_frame(fd.get(), h, payload, fds, 5s, why), recv_status::eof);
}

TEST(queue_server, shutdown_refuses_waiting_gets_once_empty_and_notifies_producers) {
  auto a = create_on_node_server(0, false);
  wire_client producer(a), consumer(a), ctl(a);
  producer.put({"last"});
  EXPECT_TRUE(size_becomes(ctl, 1)) << "(another connection: the put may come later)";
  ctl.send(std::string{static_cast<char>(op_shutdown), '\0'}); // not immediate
  auto r = ctl.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_shutdown);
  r = producer.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_shut_notice);
  EXPECT_EQ(consumer.get(5), items{"last"}) << "served until empty";
  consumer.ask_get(1, 1, false);
  r = consumer.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_shut_down);
}

TEST(queue_server, join_waits_for_every_task_done) {
  auto a = create_on_node_server(0, true);
  wire_client producer(a), consumer(a), joiner(a);
  producer.put({"1", "2"});
  EXPECT_EQ(consumer.get(2), (items{"1", "2"}));
  joiner.send(std::string(1, static_cast<char>(op_join)));
  consumer.op_with_u32(op_done, 1);
  EXPECT_EQ(joiner.reply(200ms), std::nullopt) << "one item is unfinished";
  consumer.op_with_u32(op_done, 1);
  auto r = joiner.reply();
  ASSERT_TRUE(r && r->size() >= 2);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_join);
  EXPECT_EQ((*r)[1], '\1');
}

TEST(queue_server, join_fails_when_a_consumer_dies_holding_unfinished_items) {
  auto a = create_on_node_server(0, true);
  wire_client producer(a), joiner(a);
  producer.put({"1"});
  {
    wire_client dying(a);
    EXPECT_EQ(dying.get(1), items{"1"});
    dying.op_with_u32(op_ack, 1); // taken, never done
    EXPECT_EQ(dying.size(), 0u);
    dying.close();
  }
  joiner.send(std::string(1, static_cast<char>(op_join)));
  auto r = joiner.reply();
  ASSERT_TRUE(r && r->size() >= 2);
  EXPECT_EQ((*r)[1], '\0');
  EXPECT_NE(r->find("died holding 1 unfinished"), std::string::npos) << r->substr(2);
}

// Frames a broken or hostile client might send: each closes that connection
// only; the queue and its other clients go on.
TEST(queue_server, a_malformed_request_drops_its_connection_only) {
  auto a = create_on_node_server(0, false);
  wire_client good(a);
  good.put({"kept"});
  const std::vector<std::string> bad = {
    std::string(1, '\x7f'),                                    // unknown op
    std::string(1, static_cast<char>(op_put)) + "\x02",        // truncated count
    std::string(1, static_cast<char>(op_put)) + std::string("\x01\0\0\0\xff\0\0\0x", 9), // item past the end
    std::string(1, static_cast<char>(op_get)) + "\x01\0",      // truncated get
    std::string(1, static_cast<char>(op_ack)),                  // ack without a count
    std::string(1, static_cast<char>(op_hello)) + std::string("\x01\0\0\0", 4), // a second hello
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    wire_client broken(a);
    broken.send(bad[i]);
    EXPECT_TRUE(broken.closed()) << "bad request " << i;
  }
  {
    // A hello for a queue that does not exist.
    auto wrong = a;
    wrong.id = 0xffffff;
    wire_client stranger(wrong);
    EXPECT_TRUE(stranger.closed());
  }
  EXPECT_EQ(good.size(), 1u);
  EXPECT_EQ(good.get(1), items{"kept"});
}

} // namespace
