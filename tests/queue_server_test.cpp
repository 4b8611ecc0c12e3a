// The queue server's state machine, driven frame by frame: each test opens
// bare connections to the node's socket and speaks the queue's wire
// (queue/wire.hpp) as a client would, or as a broken one would. No child
// process: a "consumer that dies" is a connection closed with items fetched.

#include "test_util.hpp"

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "queue/server.hpp"
#include "queue/wire.hpp"

#include <gtest/gtest.h>

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

  void ask_credit(std::uint32_t want, bool nowait) {
    std::string p(1, static_cast<char>(op_credit));
    put_u32(p, want);
    p += nowait ? '\1' : '\0';
    send(p);
  }

  // Credits granted by the next reply; nullopt if none comes in `timeout`.
  std::optional<std::uint32_t> grant(actors::duration timeout = 5s) {
    auto r = reply(timeout);
    if (!r || r->empty() || static_cast<op>((*r)[0]) != op_credit)
      return std::nullopt;
    reader rd{r->data() + 1, r->data() + r->size()};
    return rd.u32();
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

TEST(queue_server, credits_never_exceed_maxsize_and_fetched_items_hold_room) {
  auto a = create_on_node_server(3, false);
  wire_client producer(a), consumer(a);
  producer.ask_credit(5, false);
  EXPECT_EQ(producer.grant(), 3u) << "a standing request gets what fits";
  producer.put({"1", "2", "3"});
  EXPECT_EQ(consumer.get(3), (items{"1", "2", "3"}));
  EXPECT_EQ(producer.grant(200ms), std::nullopt)
    << "fetched but unacknowledged items still hold their room";
  consumer.op_with_u32(op_ack, 2);
  EXPECT_EQ(producer.grant(), 2u) << "the rest of the standing request, pushed unasked";
  producer.ask_credit(1, true);
  EXPECT_EQ(producer.grant(), 0u) << "nowait on a full queue: none, at once";
}

TEST(queue_server, a_dead_consumers_items_fit_back_under_maxsize) {
  auto a = create_on_node_server(2, false);
  wire_client producer(a), other(a);
  producer.ask_credit(2, false);
  EXPECT_EQ(producer.grant(), 2u);
  producer.put({"1", "2"});
  {
    wire_client dying(a);
    EXPECT_EQ(dying.get(2), (items{"1", "2"}));
    producer.ask_credit(1, true);
    EXPECT_EQ(producer.grant(), 0u);
    dying.close();
  }
  ASSERT_TRUE(size_becomes(other, 2));
  producer.ask_credit(1, true);
  EXPECT_EQ(producer.grant(), 0u) << "the returned items fill the queue";
  EXPECT_EQ(other.get(1), items{"1"});
  other.op_with_u32(op_ack, 1);
  producer.ask_credit(1, true);
  EXPECT_EQ(producer.grant(), 1u);
}

TEST(queue_server, a_producer_that_goes_away_gives_back_its_credits) {
  auto a = create_on_node_server(2, false);
  wire_client other(a);
  {
    wire_client producer(a);
    producer.ask_credit(2, false);
    EXPECT_EQ(producer.grant(), 2u);
    producer.close();
  }
  EXPECT_EQ(other.size(), 0u); // the server has seen the close
  other.ask_credit(2, false);
  EXPECT_EQ(other.grant(), 2u);
}

TEST(queue_server, returned_credits_and_a_withdrawn_request_free_room_for_others) {
  auto a = create_on_node_server(4, false);
  wire_client idle(a), busy(a);
  idle.ask_credit(8, false);
  EXPECT_EQ(idle.grant(), 4u) << "all the room, and the request stands for 4 more";
  busy.ask_credit(2, false);
  EXPECT_EQ(busy.grant(200ms), std::nullopt);
  std::string back(1, static_cast<char>(op_return_credits));
  put_u32(back, 99); // more than it holds: only what it holds comes back
  back += '\1';      // and the standing request is withdrawn
  idle.send(back);
  auto r = idle.reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<op>((*r)[0]), op_credits_returned);
  EXPECT_EQ(busy.grant(), 2u) << "the returned room goes to the waiting producer";
  busy.ask_credit(4, true);
  EXPECT_EQ(busy.grant(), 2u) << "4 - 2 held by busy; nothing more for idle's request";
  EXPECT_EQ(idle.grant(200ms), std::nullopt) << "the withdrawn request is granted nothing";
}

TEST(queue_server, shutdown_refuses_waiting_gets_once_empty_and_notifies_producers) {
  auto a = create_on_node_server(0, false);
  wire_client producer(a), consumer(a), ctl(a);
  producer.put({"last"});
  EXPECT_EQ(ctl.size(), 1u);
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
  auto a = create_on_node_server(4, false);
  wire_client good(a);
  good.put({"kept"});
  const std::vector<std::string> bad = {
    std::string(1, '\x7f'),                                    // unknown op
    std::string(1, static_cast<char>(op_put)) + "\x02",        // truncated count
    std::string(1, static_cast<char>(op_put)) + std::string("\x01\0\0\0\xff\0\0\0x", 9), // item past the end
    std::string(1, static_cast<char>(op_get)) + "\x01\0",      // truncated get
    std::string(1, static_cast<char>(op_credit)) + "\x01",     // truncated credit
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
