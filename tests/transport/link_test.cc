// Link: real Unix sockets in the abstract namespace, between threads of this process.
#include "transport/link.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <numeric>
#include <thread>

namespace sparrow::transport {
namespace {

std::string UniqueName(const std::string& what) {
  static int n = 0;
  return "sparrow-link-test-" + std::to_string(getpid()) + "-" + what + "-" + std::to_string(n++);
}

zmq::message_t Bytes(size_t n, uint8_t seed) {
  zmq::message_t m(n);
  auto* p = static_cast<uint8_t*>(m.data());
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
  return m;
}

bool SameBytes(const zmq::message_t& m, size_t n, uint8_t seed) {
  if (m.size() != n) return false;
  const auto* p = static_cast<const uint8_t*>(m.data());
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != static_cast<uint8_t>(seed + i * 7)) return false;
  }
  return true;
}

// A listener and one accepted link, with a connected sender.
struct Pair {
  std::unique_ptr<LinkListener> listener;
  std::unique_ptr<LinkOut> out;
  std::unique_ptr<LinkIn> in;
  explicit Pair(const std::string& what) {
    auto l = LinkListener::Listen(UniqueName(what));
    EXPECT_TRUE(l.ok()) << l.status().message();
    listener = std::move(l).value();
    auto o = LinkOut::Connect(listener->address());
    EXPECT_TRUE(o.ok()) << o.status().message();
    out = std::move(o).value();
    for (int i = 0; i < 1000 && !in; ++i) {
      in = listener->Accept();
      if (!in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(in != nullptr);
  }
  // Reads until `want` messages arrived or the link closed (flushing the sender as the
  // Van's receive thread would); returns the link's last status.
  Status ReadUntil(size_t want, std::vector<std::vector<zmq::message_t>>* got) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (got->size() < want && std::chrono::steady_clock::now() < deadline) {
      if (out) (void)out->Flush();
      pollfd p{in->fd(), POLLIN, 0};
      (void)poll(&p, 1, 10);
      Status st = in->Read(got);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }
};

TEST(LinkTest, MessagesOfEveryShapeArriveWholeAndInOrder) {
  Pair p("order");
  // Empty frames, small ones, and frames far larger than the socket buffer and the reader's
  // staging buffer, so every path of the reader is taken.
  const std::vector<std::vector<size_t>> shapes = {
      {10}, {10, 0, 5}, {40, 16000, 256000}, {8, 3u << 20}, {1, 1, 1, 1, 1, 1, 1}, {70000, 0}};
  for (int round = 0; round < 3; ++round) {
    for (size_t m = 0; m < shapes.size(); ++m) {
      std::vector<zmq::message_t> frames;
      for (size_t f = 1; f < shapes[m].size(); ++f) {
        frames.push_back(Bytes(shapes[m][f], static_cast<uint8_t>(m + f)));
      }
      ASSERT_TRUE(p.out->Send(Bytes(shapes[m][0], static_cast<uint8_t>(m)), &frames).ok());
      EXPECT_TRUE(frames.empty());
    }
  }
  std::vector<std::vector<zmq::message_t>> got;
  ASSERT_TRUE(p.ReadUntil(3 * shapes.size(), &got).ok());
  ASSERT_EQ(got.size(), 3 * shapes.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& want = shapes[i % shapes.size()];
    ASSERT_EQ(got[i].size(), want.size()) << "message " << i;
    for (size_t f = 0; f < want.size(); ++f) {
      EXPECT_TRUE(SameBytes(got[i][f], want[f], static_cast<uint8_t>(i % shapes.size() + f)))
          << "message " << i << " frame " << f;
    }
  }
  EXPECT_FALSE(p.out->pending());
}

TEST(LinkTest, OneReadReturnsABatchSoABusyPeerCannotStarveOthers) {
  Pair p("batch");
  for (int i = 0; i < 200; ++i) {  // 800 KB: many socket reads' worth
    std::vector<zmq::message_t> frames;
    ASSERT_TRUE(p.out->Send(Bytes(4096, static_cast<uint8_t>(i)), &frames).ok());
  }
  std::vector<std::vector<zmq::message_t>> got;
  pollfd fd{p.in->fd(), POLLIN, 0};
  ASSERT_EQ(poll(&fd, 1, 5000), 1);
  ASSERT_TRUE(p.in->Read(&got).ok());
  // With a 4 MiB socket buffer all 200 are there (with a small one, fewer): either way the
  // read stops after 64 (plus what its last chunk completed), not after all of them.
  EXPECT_GE(got.size(), 1u);
  EXPECT_LT(got.size(), 100u);
  ASSERT_TRUE(p.ReadUntil(200, &got).ok());
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(SameBytes(got[i][0], 4096, static_cast<uint8_t>(i)));
}

TEST(LinkTest, SendingNeverBlocksOnAFullSocket) {
  Pair p("full");
  // 64 MB while nobody reads: every call returns at once, the rest waits in the queue.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 16; ++i) {
    std::vector<zmq::message_t> frames;
    frames.push_back(Bytes(4 << 20, static_cast<uint8_t>(i)));
    ASSERT_TRUE(p.out->Send(Bytes(8, 0), &frames).ok());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(p.out->pending());
  std::vector<std::vector<zmq::message_t>> got;
  ASSERT_TRUE(p.ReadUntil(16, &got).ok());
  ASSERT_EQ(got.size(), 16u);
  for (int i = 0; i < 16; ++i) EXPECT_TRUE(SameBytes(got[i][1], 4 << 20, static_cast<uint8_t>(i)));
  EXPECT_FALSE(p.out->pending());
}

TEST(LinkTest, APeerThatDiesMidMessageIsReportedAndNothingPartialIsDelivered) {
  Pair p("cut");
  std::vector<zmq::message_t> frames;
  frames.push_back(Bytes(100, 1));
  ASSERT_TRUE(p.out->Send(Bytes(8, 0), &frames).ok());  // one whole message
  frames.push_back(Bytes(8 << 20, 2));
  ASSERT_TRUE(p.out->Send(Bytes(8, 0), &frames).ok());  // then one the socket takes in part
  ASSERT_TRUE(p.out->pending());
  std::vector<std::vector<zmq::message_t>> got;
  ASSERT_TRUE(p.in->Read(&got).ok());
  p.out.reset();  // the sender dies with most of the second message unsent
  Status st = p.ReadUntil(2, &got);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("closed by the peer in the middle of a message"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("frame 2 of 2"), std::string::npos) << st.message();
  ASSERT_EQ(got.size(), 1u);  // the whole message, and nothing of the cut one
  EXPECT_TRUE(SameBytes(got[0][1], 100, 1));
}

TEST(LinkTest, SendingToAClosedPeerFailsWithoutSignal) {
  Pair p("closed");
  p.in.reset();
  p.listener.reset();
  Status st;
  for (int i = 0; i < 100 && st.ok(); ++i) {  // the first write may still be accepted
    std::vector<zmq::message_t> frames;
    frames.push_back(Bytes(1 << 16, 3));
    st = p.out->Send(Bytes(8, 0), &frames);
  }
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("broken"), std::string::npos) << st.message();
}

// Connects a raw socket to a fresh listener, writes `bytes`, and returns what the
// accepted link's Read reports.
Status ReadRawBytes(const std::string& bytes, std::vector<std::vector<zmq::message_t>>* got) {
  auto l = LinkListener::Listen(UniqueName("raw"));
  EXPECT_TRUE(l.ok());
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string name = (*l)->address().substr(std::strlen("unix://@"));
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a),
                    static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())),
            0);
  EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  std::unique_ptr<LinkIn> in;
  for (int i = 0; i < 1000 && !in; ++i) {
    in = (*l)->Accept();
    if (!in) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(in);
  Status st;
  for (int i = 0; in && i < 100 && st.ok(); ++i) {
    st = in->Read(got);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  close(fd);
  return st;
}

TEST(LinkTest, GarbageOnTheSocketIsAClearError) {
  std::vector<std::vector<zmq::message_t>> got;
  Status st = ReadRawBytes("GET / HTTP/1.0\r\n\r\n", &got);
  EXPECT_NE(st.message().find("bad magic"), std::string::npos) << st.message();
  EXPECT_TRUE(got.empty());
  // A well-formed prefix that claims an absurd frame is refused before any allocation.
  std::string huge(8 + 8, '\0');
  const uint32_t head[2] = {kLinkMagic, 1};
  const uint64_t size = uint64_t{1} << 40;
  std::memcpy(huge.data(), head, 8);
  std::memcpy(huge.data() + 8, &size, 8);
  st = ReadRawBytes(huge, &got);
  EXPECT_NE(st.message().find("frame of 1099511627776 bytes"), std::string::npos) << st.message();
  EXPECT_TRUE(got.empty());
}

TEST(LinkTest, AddressesAndConnectErrors) {
  EXPECT_TRUE(IsLinkAddress("unix://@x"));
  EXPECT_FALSE(IsLinkAddress("tcp://127.0.0.1:1"));
  auto none = LinkOut::Connect("unix://@" + UniqueName("nobody"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("cannot connect to unix://@sparrow-link-test"),
            std::string::npos)
      << none.status().message();
}

}  // namespace
}  // namespace sparrow::transport
