// Van: real ROUTER/DEALER sockets, over TCP on 127.0.0.1 and over an abstract Unix socket.
#include "transport/van.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sparrow::transport {
namespace {

// Receives one message on `van` and keeps it.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Message> got;
  void Take(Message&& m) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(std::move(m));
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.size() >= n; });
  }
};

Message PushOf(const std::vector<uint64_t>& keys, const std::vector<float>& vals) {
  Message m;
  m.header.set_command(wire::PUSH);
  m.header.set_sender(9);
  m.header.set_request_id(42);
  m.AddSlice(1, 1, keys.size(), CopyFrame(keys.data(), keys.size() * sizeof(uint64_t)),
             CopyFrame(vals.data(), vals.size() * sizeof(float)));
  return m;
}

void RoundTrip(bool local, int spin_us = 0) {
  Van receiver, sender;
  receiver.SetPollSpin(spin_us);
  auto tcp = receiver.Bind("127.0.0.1:0");
  ASSERT_TRUE(tcp.ok()) << tcp.status().message();
  std::string at = *tcp;
  if (local) {
    auto ipc = receiver.BindLocal("sparrow-van-test-" + std::to_string(getpid()));
    ASSERT_TRUE(ipc.ok()) << ipc.status().message();
    EXPECT_EQ(ipc->rfind("unix://@", 0), 0u) << *ipc;
    at = *ipc;
  }
  Inbox inbox;
  receiver.Start([&](Message&& m) { inbox.Take(std::move(m)); });
  ASSERT_TRUE(sender.Connect(0, at).ok());
  EXPECT_EQ(sender.PeerAddress(0), at);
  EXPECT_EQ(sender.PeerAddress(1), "");
  const std::vector<uint64_t> keys{3, 5, 8};
  const std::vector<float> vals{0.5f, -1.0f, 2.0f};
  Message m = PushOf(keys, vals);
  ASSERT_TRUE(sender.Send(0, m).ok());
  ASSERT_TRUE(inbox.WaitFor(1));
  // A second message, sent while a spinning receiver may still be polling without sleep.
  // Both are read once both have arrived: the receive thread's second push_back may move
  // the first.
  Message again = PushOf(keys, vals);
  again.header.set_request_id(43);
  ASSERT_TRUE(sender.Send(0, again).ok());
  ASSERT_TRUE(inbox.WaitFor(2));
  const Message& r = inbox.got[0];
  EXPECT_EQ(r.header.command(), wire::PUSH);
  EXPECT_EQ(r.header.request_id(), 42u);
  ASSERT_EQ(r.header.slices_size(), 1);
  ASSERT_EQ(r.keys(0).size(), keys.size());
  ASSERT_EQ(r.values(0).size(), vals.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(r.keys(0)[i], keys[i]);
    EXPECT_EQ(r.values(0)[i], vals[i]);
  }
  EXPECT_EQ(inbox.got[1].header.request_id(), 43u);
  sender.Stop();
  const auto t0 = std::chrono::steady_clock::now();
  receiver.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(VanTest, DeliversOverTcp) {
  RoundTrip(/*local=*/false);
}

TEST(VanTest, DeliversOverALink) {
  RoundTrip(/*local=*/true);
}

TEST(VanTest, ASpinningReceiverDeliversAndStops) {
  RoundTrip(/*local=*/false, /*spin_us=*/5000);
  RoundTrip(/*local=*/true, /*spin_us=*/5000);
}

TEST(VanTest, PumpedLinksAreReadByTheCallerAndTcpByTheReceiveThread) {
  Van receiver, over_link, over_tcp;
  auto tcp = receiver.Bind("127.0.0.1:0");
  ASSERT_TRUE(tcp.ok()) << tcp.status().message();
  auto local = receiver.BindLocal("sparrow-van-pump-" + std::to_string(getpid()));
  ASSERT_TRUE(local.ok()) << local.status().message();
  receiver.PumpLinksFromCallers();
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::thread::id>> seen;  // request id, delivering thread
  receiver.Start([&](Message&& m) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(m.header.request_id(), std::this_thread::get_id());
  });
  auto delivered = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  };
  ASSERT_TRUE(over_link.Connect(0, *local).ok());
  ASSERT_TRUE(over_tcp.Connect(0, *tcp).ok());

  // Over TCP the receive thread delivers, as without pumping.
  Message m = PushOf({1}, {1.0f});
  m.header.set_request_id(1);
  ASSERT_TRUE(over_tcp.Send(0, m).ok());
  for (int i = 0; i < 1000 && delivered() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(delivered(), 1u);
  EXPECT_NE(seen[0].second, std::this_thread::get_id());

  // Over the link nothing arrives until this thread pumps; then it runs the handler.
  for (uint64_t id : {2, 3}) {
    Message l = PushOf({id}, {1.0f});
    l.header.set_request_id(id);
    ASSERT_TRUE(over_link.Send(0, l).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(delivered(), 1u);
  for (int i = 0; i < 100 && delivered() < 3; ++i) receiver.Pump(/*timeout_ms=*/100);
  ASSERT_EQ(delivered(), 3u);
  EXPECT_EQ(seen[1].first, 2u);
  EXPECT_EQ(seen[2].first, 3u);
  EXPECT_EQ(seen[1].second, std::this_thread::get_id());
  EXPECT_EQ(seen[2].second, std::this_thread::get_id());

  // A pump with nothing to read returns after its timeout.
  const auto t0 = std::chrono::steady_clock::now();
  receiver.Pump(/*timeout_ms=*/30);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(25));
  EXPECT_EQ(delivered(), 3u);

  // A sender that goes away closes its link; pumping drops it and goes on.
  over_link.Stop();
  receiver.Pump(/*timeout_ms=*/100);
  receiver.Pump(/*timeout_ms=*/10);
  EXPECT_EQ(delivered(), 3u);
  over_tcp.Stop();
  receiver.Stop();
  receiver.Pump(/*timeout_ms=*/10);  // after Stop: returns at once
}

// A waiter whose reply comes another way (over ZeroMQ, on the receive thread) wakes the
// thread that pumps for it: Pump returns on WakePump, not at the end of its timeout.
TEST(VanTest, WakePumpEndsAPumpUnderWay) {
  Van van;
  ASSERT_TRUE(van.Bind("127.0.0.1:0").ok());
  ASSERT_TRUE(van.BindLocal("sparrow-van-wake-" + std::to_string(getpid())).ok());
  van.PumpLinksFromCallers();
  van.Start([](Message&&) {});
  EXPECT_TRUE(van.pumps_links());
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    van.WakePump();
  });
  const auto t0 = std::chrono::steady_clock::now();
  van.Pump(/*timeout_ms=*/20000);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  waker.join();
  van.WakePump();  // a wake with no pump under way ends the next one at once
  van.Pump(/*timeout_ms=*/20000);
  van.Stop();
}

// Without a local listener there is nothing to pump: waiters sleep on their condition
// variable and the receive thread, which reads every reply, wakes them.
TEST(VanTest, NoListenerNoPumping) {
  Van van;
  ASSERT_TRUE(van.Bind("127.0.0.1:0").ok());
  van.PumpLinksFromCallers();
  EXPECT_FALSE(van.pumps_links());
}

TEST(VanTest, ALocalNameInUseIsAClearError) {
  Van a, b;
  ASSERT_TRUE(a.Bind("127.0.0.1:0").ok());
  ASSERT_TRUE(b.Bind("127.0.0.1:0").ok());
  const std::string name = "sparrow-van-taken-" + std::to_string(getpid());
  ASSERT_TRUE(a.BindLocal(name).ok());
  auto again = b.BindLocal(name);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("cannot listen on unix://@" + name), std::string::npos)
      << again.status().message();
}

}  // namespace
}  // namespace sparrow::transport
