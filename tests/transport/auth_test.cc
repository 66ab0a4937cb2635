// Who may talk to a node: CURVE on the ZeroMQ path (real sockets, a stranger's DEALER
// with wrong or missing keys), and SO_PEERCRED on links (a real child process running as
// another uid).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "transport/curve.h"
#include "transport/van.h"

namespace sparrow::transport {
namespace {

constexpr uid_t kNobody = 65534;

struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> senders;  // header.sender() of each message handled
  void Take(Message&& m) {
    std::lock_guard<std::mutex> lock(mu);
    senders.push_back(m.header.sender());
    cv.notify_all();
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return senders.size() >= n; });
  }
  std::vector<int> Got() {
    std::lock_guard<std::mutex> lock(mu);
    return senders;
  }
};

Message Push(int sender) {
  Message m;
  m.header.set_command(wire::PUSH);
  m.header.set_sender(sender);
  m.header.set_request_id(7);
  return m;
}

// Polls `pred` until it holds or 10 s passed.
template <typename Pred>
bool Eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string TempDir() {
  auto d =
      std::filesystem::temp_directory_path() / ("sparrow-auth-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(d);
  return d.string();
}

// Drops every privilege to `uid` in a forked child: raw system calls, since glibc's
// setuid() in a child of a threaded process may wait on threads that are not there.
bool BecomeUser(uid_t uid) {
  return syscall(SYS_setgroups, 0, nullptr) == 0 && syscall(SYS_setgid, uid) == 0 &&
         syscall(SYS_setuid, uid) == 0;
}

sockaddr_un Abstract(const std::string& address, socklen_t* len) {
  const std::string name = address.substr(std::strlen("unix://@"));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

// ---- CURVE ----

TEST(CurveKeysTest, WrittenMode0600ReadBackAndNeverOverwritten) {
  auto keys = NewCurveKeys();
  ASSERT_TRUE(keys.ok()) << keys.status().message();
  const std::string path = TempDir() + "/roundtrip.keys";
  std::filesystem::remove(path);
  ASSERT_TRUE(WriteCurveKeys(path, *keys).ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = ReadCurveKeys(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->public_key, keys->public_key);
  EXPECT_EQ(back->secret_key, keys->secret_key);

  auto other = NewCurveKeys();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(WriteCurveKeys(path, *other).ok());
  EXPECT_EQ(ReadCurveKeys(path)->secret_key, keys->secret_key);

  // A secret others may read is refused, with the fix in the message.
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto loose = ReadCurveKeys(path);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.status().message().find("chmod 600"), std::string::npos)
      << loose.status().message();
  std::filesystem::remove(path);
}

TEST(CurveKeysTest, MismatchedKeysAreRefused) {
  auto a = NewCurveKeys(), b = NewCurveKeys();
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string path = TempDir() + "/mixed.keys";
  std::filesystem::remove(path);
  ASSERT_TRUE(WriteCurveKeys(path, {a->public_key, b->secret_key}).ok());
  auto r = ReadCurveKeys(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not belong"), std::string::npos)
      << r.status().message();
  std::filesystem::remove(path);
}

// A stranger's DEALER sends a well-formed message; it must never reach the handler.
void KnockAndSend(zmq::context_t& ctx, const std::string& at, int sender,
                  const CurveKeys* client_keys, const std::string& server_key,
                  std::vector<zmq::socket_t>* keep) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  if (client_keys) {
    s.set(zmq::sockopt::curve_serverkey, server_key);
    s.set(zmq::sockopt::curve_publickey, client_keys->public_key);
    s.set(zmq::sockopt::curve_secretkey, client_keys->secret_key);
  }
  s.connect(at);
  Message push = Push(sender);
  zmq::message_t head = EncodeHeader(push.header);
  (void)s.send(head, zmq::send_flags::dontwait);  // queued until a handshake succeeds: never
  keep->push_back(std::move(s));                  // keeps knocking while the test runs
}

// The three ways to lack the cluster's key, each against a node of its own so that each
// is seen refused: no CURVE at all; CURVE with the cluster's public key as the server's
// but a keypair of its own (the ZAP handler refuses it); CURVE expecting another server
// key (the handshake does not decrypt).
enum class Stranger { kNoCurve, kOwnKeypair, kOtherServerKey };

class CurveRefusalTest : public ::testing::TestWithParam<Stranger> {};

TEST_P(CurveRefusalTest, IsRefusedAndTheNodeServesOn) {
  auto cluster = NewCurveKeys(), stranger = NewCurveKeys();
  ASSERT_TRUE(cluster.ok() && stranger.ok());
  Van node;
  ASSERT_TRUE(node.EnableCurve(*cluster).ok());
  auto at = node.Bind("127.0.0.1:0");
  ASSERT_TRUE(at.ok()) << at.status().message();
  Inbox inbox;
  node.Start([&](Message&& m) { inbox.Take(std::move(m)); });

  zmq::context_t ctx(1);
  std::vector<zmq::socket_t> strangers;
  switch (GetParam()) {
    case Stranger::kNoCurve:
      KnockAndSend(ctx, *at, 101, nullptr, "", &strangers);
      break;
    case Stranger::kOwnKeypair:
      KnockAndSend(ctx, *at, 102, &*stranger, cluster->public_key, &strangers);
      break;
    case Stranger::kOtherServerKey:
      KnockAndSend(ctx, *at, 103, &*stranger, stranger->public_key, &strangers);
      break;
  }
  ASSERT_TRUE(Eventually([&] { return node.refused_peers() >= 1; }));

  // A peer with the cluster's keys still gets through, while the stranger keeps knocking.
  Van peer;
  ASSERT_TRUE(peer.EnableCurve(*cluster).ok());
  ASSERT_TRUE(peer.Connect(0, *at).ok());
  Message m = Push(1);
  ASSERT_TRUE(peer.Send(0, m).ok());
  ASSERT_TRUE(inbox.WaitFor(1));
  Message again = Push(1);
  ASSERT_TRUE(peer.Send(0, again).ok());
  ASSERT_TRUE(inbox.WaitFor(2));
  EXPECT_EQ(inbox.Got(), (std::vector<int>{1, 1}));  // nothing of the stranger's
  peer.Stop();
  strangers.clear();
  node.Stop();
}

INSTANTIATE_TEST_SUITE_P(Strangers, CurveRefusalTest,
                         ::testing::Values(Stranger::kNoCurve, Stranger::kOwnKeypair,
                                           Stranger::kOtherServerKey),
                         [](const ::testing::TestParamInfo<Stranger>& p) {
                           switch (p.param) {
                             case Stranger::kNoCurve:
                               return "NoCurve";
                             case Stranger::kOwnKeypair:
                               return "OwnKeypair";
                             default:
                               return "OtherServerKey";
                           }
                         });

TEST(CurveTest, ACurveNodeCannotReachAPlainOne) {
  // The other way round: a node with keys does not talk to an unauthenticated ROUTER
  // (which could be anyone's), so nothing it sends is delivered there.
  auto cluster = NewCurveKeys();
  ASSERT_TRUE(cluster.ok());
  Van plain;
  auto at = plain.Bind("127.0.0.1:0");
  ASSERT_TRUE(at.ok());
  Inbox inbox;
  plain.Start([&](Message&& m) { inbox.Take(std::move(m)); });
  Van sender;
  ASSERT_TRUE(sender.EnableCurve(*cluster).ok());
  ASSERT_TRUE(sender.Connect(0, *at).ok());
  Message m = Push(5);
  ASSERT_TRUE(sender.Send(0, m).ok());  // queued: the handshake never completes
  // A plain peer proves the plain node is up and serving; the CURVE one never arrived.
  Van other;
  ASSERT_TRUE(other.Connect(0, *at).ok());
  Message ok = Push(6);
  ASSERT_TRUE(other.Send(0, ok).ok());
  ASSERT_TRUE(inbox.WaitFor(1));
  EXPECT_EQ(inbox.Got(), std::vector<int>{6});
  sender.Stop(0);
  other.Stop();
  plain.Stop();
}

// A node with another cluster's keys, or none: refused, and its sends do not block (a
// worker told to stop sends FINISH to a scheduler that refuses it).
void WrongNodeSendsDoNotHang(bool with_keys) {
  auto cluster = NewCurveKeys(), other = NewCurveKeys();
  ASSERT_TRUE(cluster.ok() && other.ok());
  Van node;
  ASSERT_TRUE(node.EnableCurve(*cluster).ok());
  auto at = node.Bind("127.0.0.1:0");
  ASSERT_TRUE(at.ok());
  Inbox inbox;
  node.Start([&](Message&& m) { inbox.Take(std::move(m)); });
  Van wrong;
  if (with_keys) {
    ASSERT_TRUE(wrong.EnableCurve(*other).ok());
  }
  ASSERT_TRUE(wrong.Connect(0, *at).ok());
  Message m = Push(8);
  (void)wrong.Send(0, m);  // queued or refused, but returns
  ASSERT_TRUE(Eventually([&] { return node.refused_peers() >= 1; }));
  for (int i = 0; i < 3; ++i) {
    Message again = Push(8);
    (void)wrong.Send(0, again);  // once refused: fails at once rather than block
  }
  wrong.Stop(0);
  EXPECT_TRUE(inbox.Got().empty());
  node.Stop();
}

TEST(CurveTest, ANodeWithOtherKeysIsRefusedAndItsSendsDoNotHang) {
  WrongNodeSendsDoNotHang(true);
}

TEST(CurveTest, ANodeWithoutKeysIsRefusedAndItsSendsDoNotHang) {
  WrongNodeSendsDoNotHang(false);
}

TEST(CurveTest, EnableCurveOnlyBeforeBind) {
  auto cluster = NewCurveKeys();
  ASSERT_TRUE(cluster.ok());
  Van v;
  ASSERT_TRUE(v.Bind("127.0.0.1:0").ok());
  EXPECT_FALSE(v.EnableCurve(*cluster).ok());
}

// ---- Links: SO_PEERCRED ----

TEST(LinkAuthTest, ALinkFromAnotherUidIsRefusedAndTheNodeServesOn) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root, to run a child as uid " << kNobody;
  Van node;
  ASSERT_TRUE(node.Bind("127.0.0.1:0").ok());
  auto at = node.BindLocal("sparrow-auth-test-" + std::to_string(getpid()));
  ASSERT_TRUE(at.ok()) << at.status().message();
  Inbox inbox;
  node.Start([&](Message&& m) { inbox.Take(std::move(m)); });

  // A well-formed link message from "node 66", built before the fork (the child of a
  // threaded process should not allocate).
  Message push = Push(66);
  zmq::message_t head = EncodeHeader(push.header);
  std::string bytes(8 + 8, '\0');
  const uint32_t prefix[2] = {kLinkMagic, 1};
  const uint64_t size = head.size();
  std::memcpy(bytes.data(), prefix, 8);
  std::memcpy(bytes.data() + 8, &size, 8);
  bytes.append(static_cast<const char*>(head.data()), head.size());
  socklen_t len;
  const sockaddr_un addr = Abstract(*at, &len);

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // 10: could not become nobody; 11: could not connect; 12: the node kept the link open
    // (read nothing back for 10 s); 0: the node closed it.
    if (!BecomeUser(kNobody)) _exit(10);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) _exit(11);
    (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);  // may be closed already
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) _exit(12);
    char c;
    _exit(read(fd, &c, 1) <= 0 ? 0 : 12);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child (uid " << kNobody << ") was not refused";
  EXPECT_EQ(node.refused_peers(), 1u);

  // A link of our own uid is served as before.
  Van peer;
  ASSERT_TRUE(peer.Connect(0, *at).ok());
  Message m = Push(1);
  ASSERT_TRUE(peer.Send(0, m).ok());
  ASSERT_TRUE(inbox.WaitFor(1));
  EXPECT_EQ(inbox.Got(), std::vector<int>{1});  // nothing of node 66
  peer.Stop();
  node.Stop();
}

TEST(LinkAuthTest, ALinkToAListenerOfAnotherUidIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root, to run a child as uid " << kNobody;
  const std::string address = "unix://@sparrow-auth-squat-" + std::to_string(getpid());
  socklen_t len;
  const sockaddr_un addr = Abstract(address, &len);
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Listens as nobody until the parent closes `done`.
    close(ready[0]);
    close(done[1]);
    if (!BecomeUser(kNobody)) _exit(10);
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
        listen(fd, 4) != 0) {
      _exit(11);
    }
    (void)!write(ready[1], "r", 1);
    char c;
    (void)!read(done[0], &c, 1);
    _exit(0);
  }
  close(ready[1]);
  close(done[0]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the child could not listen";
  auto out = LinkOut::Connect(address);
  close(done[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  close(ready[0]);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("uid " + std::to_string(kNobody)), std::string::npos)
      << out.status().message();
}

}  // namespace
}  // namespace sparrow::transport
