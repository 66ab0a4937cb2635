// A real server process gets malformed requests: each one is answered with an ERROR that
// names the reason, and the server keeps serving good requests afterwards.
#include <condition_variable>
#include <deque>
#include <mutex>

#include "tests/cluster/test_cluster.h"

namespace sparrow::testing {
namespace {

using transport::Message;

// A worker node that records every reply, so the test can send anything and look at it.
class RawPeer {
 public:
  explicit RawPeer(const std::string& scheduler) : node_(TestWorker::Options(scheduler)) {}
  Status Start() {
    return node_.Start([this](Message&& m) {
      std::lock_guard<std::mutex> lock(mu_);
      replies_.push_back(std::move(m));
      cv_.notify_all();
    });
  }
  // Sends `m` to server rank `rank` and returns the reply to it.
  Message Exchange(int rank, Message m) {
    const int to = node_.table().servers[rank].id();
    m.header.set_sender(node_.id());
    m.header.set_receiver(to);
    m.header.set_request_id(++rid_);
    EXPECT_TRUE(node_.van().Send(to, m).ok());
    return WaitReply(rid_);
  }
  // Sends `m` as request `rid` (with the given oldest pending id) and returns the reply.
  Message ExchangeAs(int rank, Message m, uint64_t rid, uint64_t oldest_pending) {
    const int to = node_.table().servers[rank].id();
    m.header.set_sender(node_.id());
    m.header.set_receiver(to);
    m.header.set_request_id(rid);
    m.header.set_oldest_pending(oldest_pending);
    EXPECT_TRUE(node_.van().Send(to, m).ok());
    return WaitReply(rid);
  }
  Message WaitReply(uint64_t rid) {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(10),
                             [&] {
                               for (auto& r : replies_) {
                                 if (r.header.request_id() == rid) return true;
                               }
                               return false;
                             }))
        << "no reply to request " << rid;
    for (auto it = replies_.begin(); it != replies_.end(); ++it) {
      if (it->header.request_id() == rid) {
        Message m = std::move(*it);
        replies_.erase(it);
        return m;
      }
    }
    return Message();
  }
  cluster::Node& node() { return node_; }
  uint64_t NextId() { return ++rid_; }

 private:
  cluster::Node node_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> replies_;
  uint64_t rid_ = 0;
};

Message CreateTableMsg(const wire::TableSpec& spec) {
  Message m;
  m.header.set_command(wire::CREATE_TABLE);
  *m.header.mutable_control()->mutable_table() = spec;
  return m;
}

Message DataMsg(wire::Command cmd, uint32_t table, const std::vector<uint64_t>& keys,
                const std::vector<float>& vals, uint32_t width) {
  Message m;
  m.header.set_command(cmd);
  m.AddSlice(table, width, keys.size(), transport::CopyFrame(keys.data(), keys.size() * 8),
             transport::CopyFrame(vals.data(), vals.size() * 4));
  return m;
}

void ExpectError(const Message& reply, const std::string& reason,
                 Code code = Code::kInvalidArgument) {
  EXPECT_EQ(reply.header.command(), wire::ERROR);
  EXPECT_NE(reply.header.error().find(reason), std::string::npos)
      << "error was: " << reply.header.error();
  // The client reads the failure's kind, not only its words.
  EXPECT_EQ(transport::ErrorOf(reply.header, "server").code(), code) << reply.header.error();
}

TEST(BadRequestTest, ServerRejectsWithReasonAndKeepsServing) {
  launcher::LocalCluster lc(ClusterOptions(/*servers=*/2, /*external_workers=*/1));
  ASSERT_TRUE(lc.Start().ok());
  RawPeer p(lc.scheduler_endpoint());
  ASSERT_TRUE(p.Start().ok());
  ASSERT_EQ(p.Exchange(0, CreateTableMsg(SgdTable(1, 2))).header.command(), wire::ACK);
  const uint64_t in_range = p.node().table().servers[0].key_end() - 10;
  const uint64_t other_range = p.node().table().servers[1].key_begin() + 10;

  // Keys frame shorter than the header says.
  Message m = DataMsg(wire::PULL, 1, {1, 2, 3}, {}, 2);
  m.header.mutable_slices(0)->set_num_keys(4);
  ExpectError(p.Exchange(0, std::move(m)), "keys frame has 24 bytes; header says 4 keys");
  // Values frame of the wrong length.
  ExpectError(p.Exchange(0, DataMsg(wire::PUSH, 1, {1, 2}, {1, 2, 3}, 2)),
              "values frame has 12 bytes; expected 16");
  // Unsorted, duplicate, and out-of-range keys.
  ExpectError(p.Exchange(0, DataMsg(wire::PULL, 1, {5, 3}, {}, 2)), "not sorted and unique");
  ExpectError(p.Exchange(0, DataMsg(wire::PULL, 1, {5, 5}, {}, 2)), "not sorted and unique");
  ExpectError(p.Exchange(0, DataMsg(wire::PULL, 1, {other_range}, {}, 2)),
              "outside this server's range");
  // Unknown table, wrong width.
  ExpectError(p.Exchange(0, DataMsg(wire::PULL, 9, {1}, {}, 2)), "no table 9",
              Code::kFailedPrecondition);
  ExpectError(p.Exchange(0, DataMsg(wire::PUSH, 1, {1}, {1, 2, 3}, 3)), "width 3");
  // Missing values frame.
  Message nov = DataMsg(wire::PUSH, 1, {1}, {}, 2);
  nov.frames.pop_back();
  ExpectError(p.Exchange(0, std::move(nov)), "needs 2 data frame(s), got 1");
  // A two-table push whose second slice is bad is refused whole: the first is not applied.
  Message two = DataMsg(wire::PUSH, 1, {11}, {5, 5}, 2);
  const std::vector<uint64_t> k9{11};
  const std::vector<float> v9{1};
  two.AddSlice(9, 1, 1, transport::CopyFrame(k9.data(), 8), transport::CopyFrame(v9.data(), 4));
  ExpectError(p.Exchange(0, std::move(two)), "no table 9", Code::kFailedPrecondition);
  Message after = p.Exchange(0, DataMsg(wire::PULL, 1, {11}, {}, 2));
  ASSERT_EQ(after.header.command(), wire::PULL_REPLY);
  after.AlignFrames();
  EXPECT_EQ(std::vector<float>(after.values(0).begin(), after.values(0).end()),
            (std::vector<float>{0, 0}));

  // A peer speaking another wire version: send raw bytes over our own socket.
  {
    wire::Header h;
    h.set_version(transport::kWireVersion + 7);
    h.set_sender(p.node().id());
    h.set_command(wire::PULL);
    const uint64_t rid = p.NextId();
    h.set_request_id(rid);
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 1000);
    s.connect(p.node().table().servers[0].address());
    const std::string bytes = h.SerializeAsString();
    s.send(zmq::buffer(bytes), zmq::send_flags::none);
    ExpectError(p.WaitReply(rid),
                "peer speaks wire version " + std::to_string(transport::kWireVersion + 7));
  }

  // PUSH_PULL: the push is applied, then the pull answers with only the pulled slices.
  {
    Message pp;
    pp.header.set_command(wire::PUSH_PULL);
    pp.header.set_num_push_slices(1);
    const std::vector<uint64_t> k{21};
    const std::vector<float> g{1, 2};
    pp.AddSlice(1, 2, 1, transport::CopyFrame(k.data(), 8), transport::CopyFrame(g.data(), 8));
    pp.AddSlice(1, 2, 1, transport::CopyFrame(k.data(), 8));
    Message r = p.Exchange(0, std::move(pp));
    ASSERT_EQ(r.header.command(), wire::PULL_REPLY);
    ASSERT_EQ(r.header.slices_size(), 1);
    r.AlignFrames();
    EXPECT_EQ(std::vector<float>(r.values(0).begin(), r.values(0).end()),
              (std::vector<float>{-1, -2}));
    // More pushed slices than slices is refused.
    Message bad;
    bad.header.set_command(wire::PUSH_PULL);
    bad.header.set_num_push_slices(1);
    bad.AddSlice(1, 2, 1, transport::CopyFrame(k.data(), 8), transport::CopyFrame(g.data(), 8));
    bad.header.set_num_push_slices(2);
    ExpectError(p.Exchange(0, std::move(bad)), "PUSH_PULL says 2 pushed slices of 1");
  }

  // After all that the server still serves: push then pull gives -grad exactly (SGD, lr 1).
  ASSERT_EQ(p.Exchange(0, DataMsg(wire::PUSH, 1, {7, in_range}, {1, 2, 3, 4}, 2)).header.command(),
            wire::ACK);
  Message reply = p.Exchange(0, DataMsg(wire::PULL, 1, {7, in_range}, {}, 2));
  ASSERT_EQ(reply.header.command(), wire::PULL_REPLY);
  reply.AlignFrames();
  ASSERT_TRUE(transport::ValidateDataFrames(reply, 0, ~0ull).ok());
  std::vector<float> got(reply.values(0).begin(), reply.values(0).end());
  EXPECT_EQ(got, (std::vector<float>{-1, -2, -3, -4}));

  p.node().Finish(false, "");
  EXPECT_TRUE(p.node().WaitForShutdown().ok());
  p.node().Stop();
  auto r = lc.Wait();
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  for (int e : r.server_exits) EXPECT_EQ(e, 0);
}

// At-least-once delivery, exactly-once effect: a push delivered again (a retry after a
// timeout, in order or not) is acknowledged but applied once; pushes that are new arrive
// in any order and are all applied; an id below the sender's oldest pending one is old.
TEST(BadRequestTest, RepeatedPushIsAppliedOnce) {
  launcher::LocalCluster lc(ClusterOptions(/*servers=*/1, /*external_workers=*/1));
  ASSERT_TRUE(lc.Start().ok());
  RawPeer p(lc.scheduler_endpoint());
  ASSERT_TRUE(p.Start().ok());
  ASSERT_EQ(p.Exchange(0, CreateTableMsg(SgdTable(1, 1))).header.command(),
            wire::ACK);  // SGD, rate 1
  auto push = [&](uint64_t rid, uint64_t oldest) {
    return p.ExchangeAs(0, DataMsg(wire::PUSH, 1, {7}, {-1}, 1), 1000 + rid, 1000 + oldest)
        .header.command();
  };
  auto value = [&] {
    Message r = p.Exchange(0, DataMsg(wire::PULL, 1, {7}, {}, 1));
    r.AlignFrames();
    return r.values(0)[0];
  };
  EXPECT_EQ(push(5, 3), wire::ACK);  // sent while 3 was still pending
  EXPECT_EQ(push(3, 3), wire::ACK);  // an earlier id, first delivered now: applied
  EXPECT_EQ(value(), 2.0f);
  EXPECT_EQ(push(5, 3), wire::ACK);  // a retry of 5: acknowledged, not applied
  EXPECT_EQ(push(3, 3), wire::ACK);
  EXPECT_EQ(value(), 2.0f);
  EXPECT_EQ(push(9, 9), wire::ACK);  // the sender's oldest pending is 9 now
  EXPECT_EQ(push(4, 9), wire::ACK);  // so 4 is a late copy of something settled
  EXPECT_EQ(value(), 3.0f);
  // A PUSH_PULL delivered twice pushes once and is answered both times.
  for (int i = 0; i < 2; ++i) {
    Message pp;
    pp.header.set_command(wire::PUSH_PULL);
    pp.header.set_num_push_slices(1);  // before the slices: it says which carry values
    const std::vector<uint64_t> k{7};
    const std::vector<float> g{-1};
    pp.AddSlice(1, 1, 1, transport::CopyFrame(k.data(), 8), transport::CopyFrame(g.data(), 4));
    pp.AddSlice(1, 1, 1, transport::CopyFrame(k.data(), 8));
    Message r = p.ExchangeAs(0, std::move(pp), 1020, 1020);
    ASSERT_EQ(r.header.command(), wire::PULL_REPLY);
    r.AlignFrames();
    EXPECT_EQ(r.values(0)[0], 4.0f);
  }
  EXPECT_TRUE(p.node().Barrier(wire::WORKER).ok());
  p.node().Finish(false, "");
  EXPECT_TRUE(p.node().WaitForShutdown().ok());
  p.node().Stop();
  EXPECT_TRUE(lc.Wait().status.ok());
}

}  // namespace
}  // namespace sparrow::testing
