#include "transport/message.h"

#include <gtest/gtest.h>

namespace sparrow::transport {
namespace {

// Appends a slice of `keys` and (for a PUSH) nvals values to m.
void Add(Message* m, uint32_t table, std::vector<uint64_t> keys, uint32_t width, size_t nvals) {
  std::vector<float> v(nvals, 1.0f);
  m->AddSlice(table, width, keys.size(), CopyFrame(keys.data(), keys.size() * 8),
              CopyFrame(v.data(), v.size() * 4));
  m->AlignFrames();
}

Message Data(wire::Command cmd, std::vector<uint64_t> keys, uint32_t width, size_t nvals) {
  Message m;
  m.header.set_command(cmd);
  Add(&m, 0, std::move(keys), width, nvals);
  return m;
}

TEST(MessageTest, HeaderRoundTrip) {
  wire::Header h;
  h.set_command(wire::PULL);
  h.set_sender(3);
  h.set_request_id(77);
  h.set_clock(5);
  zmq::message_t f = EncodeHeader(h);
  wire::Header back;
  ASSERT_TRUE(DecodeHeader(f, &back).ok());
  EXPECT_EQ(back.version(), kWireVersion);
  EXPECT_EQ(back.sender(), 3);
  EXPECT_EQ(back.request_id(), 77u);
  EXPECT_EQ(back.clock(), 5);
}

TEST(MessageTest, RejectsForeignVersionAndGarbage) {
  wire::Header h;
  h.set_version(kWireVersion + 1);
  h.set_sender(4);
  std::string bytes = h.SerializeAsString();
  zmq::message_t f(bytes.data(), bytes.size());
  wire::Header back;
  Status st = DecodeHeader(f, &back);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("wire version " + std::to_string(kWireVersion + 1)),
            std::string::npos);
  EXPECT_EQ(back.sender(), 4);  // still known, so the peer can be answered

  const char junk[] = "\xff\xff\xff\xff\xff";
  zmq::message_t g(junk, 5);
  EXPECT_FALSE(DecodeHeader(g, &back).ok());
}

TEST(MessageTest, ValidatesDataFrames) {
  EXPECT_TRUE(ValidateDataFrames(Data(wire::PUSH, {1, 2, 3}, 2, 6), 0, ~0ull).ok());
  EXPECT_TRUE(ValidateDataFrames(Data(wire::PULL, {1, 5}, 1, 0), 0, ~0ull).ok());

  auto expect = [](const Message& m, uint64_t b, uint64_t e, const std::string& what) {
    Status st = ValidateDataFrames(m, b, e);
    EXPECT_FALSE(st.ok()) << what;
    EXPECT_NE(st.message().find(what), std::string::npos) << st.message();
  };
  expect(Data(wire::PUSH, {1, 2, 3}, 2, 5), 0, ~0ull, "values frame has 20 bytes");
  expect(Data(wire::PULL, {3, 2}, 1, 0), 0, ~0ull, "not sorted and unique");
  expect(Data(wire::PULL, {2, 2}, 1, 0), 0, ~0ull, "not sorted and unique");
  expect(Data(wire::PULL, {1, 500}, 1, 0), 0, 100, "outside this server's range");
  Message m = Data(wire::PULL, {1, 2}, 1, 0);
  m.header.mutable_slices(0)->set_num_keys(3);
  expect(m, 0, ~0ull, "keys frame has 16 bytes; header says 3 keys");
  Message p = Data(wire::PUSH, {1, 2}, 1, 2);
  p.frames.pop_back();
  expect(p, 0, ~0ull, "needs 2 data frame(s), got 1");
  Message none;
  none.header.set_command(wire::PULL);
  expect(none, 0, ~0ull, "must carry 1 to 16 slices, got 0");
}

TEST(MessageTest, PullReplyCarriesValuesOnly) {
  Message m;
  m.header.set_command(wire::PULL_REPLY);
  const std::vector<uint64_t> keys{4, 9};
  const std::vector<float> a{1, 2}, b{3, 4, 5, 6};
  m.AddSlice(1, 1, 2, CopyFrame(keys.data(), 16), CopyFrame(a.data(), 8));  // keys ignored
  m.AddSlice(2, 2, 2, zmq::message_t(), CopyFrame(b.data(), 16));
  m.AlignFrames();
  ASSERT_EQ(m.frames.size(), 2u);
  EXPECT_TRUE(ValidateDataFrames(m, 0, 5).ok());  // no keys, so no range to break
  EXPECT_TRUE(m.keys(0).empty());
  EXPECT_EQ(std::vector<float>(m.values(1).begin(), m.values(1).end()), b);
  m.frames.pop_back();
  Status st = ValidateDataFrames(m, 0, ~0ull);
  EXPECT_NE(st.message().find("needs 2 data frame(s), got 1"), std::string::npos) << st.message();
  m.frames.push_back(CopyFrame(a.data(), 8));  // 2 floats where 2 keys x width 2 are due
  st = ValidateDataFrames(m, 0, ~0ull);
  EXPECT_NE(st.message().find("values frame has 8 bytes; expected 16"), std::string::npos)
      << st.message();
}

TEST(MessageTest, SlicesCarryTheirOwnFrames) {
  // A PUSH of three tables, the middle one empty: each slice reads its own frames.
  Message m;
  m.header.set_command(wire::PUSH);
  Add(&m, 4, {1, 2}, 2, 4);
  Add(&m, 5, {}, 3, 0);
  Add(&m, 6, {9}, 1, 1);
  ASSERT_TRUE(ValidateDataFrames(m, 0, ~0ull).ok());
  EXPECT_EQ(m.frames.size(), 6u);
  EXPECT_EQ(m.keys(0).size(), 2u);
  EXPECT_EQ(m.values(0).size(), 4u);
  EXPECT_TRUE(m.keys(1).empty());
  EXPECT_EQ(m.keys(2)[0], 9u);
  EXPECT_EQ(m.values(2).size(), 1u);
  // A fault in a later slice is reported with the slice's index.
  m.header.mutable_slices(2)->set_value_width(2);
  Status st = ValidateDataFrames(m, 0, ~0ull);
  EXPECT_NE(st.message().find("slice 2: values frame has 4 bytes; expected 8"), std::string::npos)
      << st.message();
  // A PULL has keys frames only.
  Message pull;
  pull.header.set_command(wire::PULL);
  Add(&pull, 4, {1, 2}, 2, 0);
  Add(&pull, 6, {3}, 1, 0);
  EXPECT_EQ(pull.frames.size(), 2u);
  EXPECT_TRUE(ValidateDataFrames(pull, 0, ~0ull).ok());
}

TEST(MessageTest, ZeroCopyFrameKeepsOwnerAlive) {
  auto buf = std::make_shared<std::vector<uint64_t>>(1000, 7);
  std::weak_ptr<std::vector<uint64_t>> weak = buf;
  {
    zmq::message_t f = ZeroCopyFrame(buf, buf->data(), 8000);
    buf.reset();
    EXPECT_FALSE(weak.expired());
    EXPECT_EQ(static_cast<const uint64_t*>(f.data())[999], 7u);
  }
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace sparrow::transport
