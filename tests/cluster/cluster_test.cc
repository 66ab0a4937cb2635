// Multi-process tests: real scheduler, server and worker processes on 127.0.0.1.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "tests/cluster/test_cluster.h"

namespace sparrow::testing {
namespace {

using Clock = std::chrono::steady_clock;
using worker::Keys;

std::shared_ptr<std::vector<uint64_t>> SpreadKeys(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto k = std::make_shared<std::vector<uint64_t>>();
  for (size_t i = 0; i < n; ++i) k->push_back(rng());
  std::sort(k->begin(), k->end());
  k->erase(std::unique(k->begin(), k->end()), k->end());
  return k;
}

TEST(ClusterTest, TwoServersTwoWorkersPushAndPullExactly) {
  launcher::LocalCluster lc(ClusterOptions(/*servers=*/2, /*external_workers=*/2));
  ASSERT_TRUE(lc.Start().ok());
  const uint32_t width = 3;
  const int rounds = 5;
  auto keys = SpreadKeys(20000, 1);
  std::atomic<int> failures{0};
  auto run = [&](int) {
    TestWorker w(lc.scheduler_endpoint());
    ASSERT_TRUE(w.Start().ok());
    const int rank = w.node.rank();
    // Each worker sends its own capacity hint: the same table all the same.
    wire::TableSpec spec = SgdTable(7, width);
    spec.set_expected_keys(10000 * (rank + 1));
    ASSERT_TRUE(w.kv.CreateTable(spec).ok());
    Status other = w.kv.CreateTable(SgdTable(7, width + 1));
    EXPECT_NE(other.message().find("already exists with another spec"), std::string::npos)
        << other.message();
    for (int r = 0; r < rounds; ++r) {
      auto g = std::make_shared<std::vector<float>>(keys->size() * width);
      for (size_t i = 0; i < g->size(); ++i) g->at(i) = float((rank + 1) * int(i % 5) - 2 + r);
      // Keep several pushes in flight at once.
      (void)w.kv.Push(7, keys, g, width);
    }
    ASSERT_TRUE(w.node.Barrier(wire::WORKER).ok());  // pushes of both workers are sent...
    std::vector<float> out(keys->size() * width);
    ASSERT_TRUE(w.kv.Wait(w.kv.Pull(7, keys, width, out.data())).ok());
    ASSERT_TRUE(w.node.Barrier(wire::WORKER).ok());
    // ...but only the worker's own are ordered before its pull; pull again after both
    // have seen their own pushes applied.
    ASSERT_TRUE(w.kv.Wait(w.kv.Pull(7, keys, width, out.data())).ok());
    for (size_t i = 0; i < out.size(); ++i) {
      float want = 0;  // SGD with lr 1: w = -sum of gradients
      for (int rk = 0; rk < 2; ++rk)
        for (int r = 0; r < rounds; ++r) want -= float((rk + 1) * int(i % 5) - 2 + r);
      if (out[i] != want) {
        ++failures;
        ADD_FAILURE() << "key index " << i << ": " << out[i] << " != " << want;
        break;
      }
    }
    auto stats = w.kv.Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->at(0).keys(), keys->size());
    EXPECT_TRUE(w.Finish().ok());
  };
  std::thread a(run, 0), b(run, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures.load(), 0);
  auto r = lc.Wait();
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  for (int e : r.server_exits) EXPECT_EQ(e, 0);
}

// Which socket a worker reaches its server through, as each side's local_ipc says, and
// that pushes and pulls work over it.
std::string ServerTransport(bool server_ipc, bool worker_ipc) {
  launcher::LocalClusterOptions o = ClusterOptions(1, 1);
  o.local_ipc = server_ipc;
  launcher::LocalCluster lc(o);
  EXPECT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint(), 20000, worker_ipc);
  EXPECT_TRUE(w.Start().ok());
  const std::string address = w.node.van().PeerAddress(w.node.table().servers.at(0).id());
  EXPECT_TRUE(w.kv.CreateTable(SgdTable(1, 2)).ok());
  auto keys = SpreadKeys(1000, 3);
  auto g = std::make_shared<std::vector<float>>(keys->size() * 2, -1.5f);
  EXPECT_TRUE(w.kv.Wait(w.kv.Push(1, keys, g, 2)).ok());
  std::vector<float> out(keys->size() * 2);
  EXPECT_TRUE(w.kv.Wait(w.kv.Pull(1, keys, 2, out.data())).ok());
  for (float v : out) EXPECT_EQ(v, 1.5f);
  EXPECT_TRUE(w.Finish().ok());
  EXPECT_TRUE(lc.Wait().status.ok());
  return address.substr(0, address.find("://") + 3);
}

TEST(ClusterTest, PeersOnThisHostTalkOverLinksUnlessEitherSideOptsOut) {
  ASSERT_FALSE(cluster::HostScope().empty());
  EXPECT_NE(cluster::HostScope().find("/net:["), std::string::npos) << cluster::HostScope();
  EXPECT_EQ(ServerTransport(true, true), "unix://");
  EXPECT_EQ(ServerTransport(false, true), "tcp://");  // the server has no Unix socket
  EXPECT_EQ(ServerTransport(true, false), "tcp://");  // the worker does not use one
}

// One fast and one slow worker take `steps` minibatches: pull at clock c, push -1 to one
// key, tick (or, with clock_on_push, a push that ends the step: the key's server gets the
// flag on the push, the other server a CLOCK). A pull at clock c sees the fast worker's own c
// pushes plus the slow worker's; `lag` is how many minibatches the slow worker was behind at that
// moment.
struct LagReport {
  int max_lag = 0;
  int violations = 0;
};

LagReport RunClockedSteps(int max_delay, int steps, bool clock_on_push = false) {
  launcher::LocalCluster lc(ClusterOptions(2, 2, max_delay));
  EXPECT_TRUE(lc.Start().ok());
  LagReport report;
  auto key = std::make_shared<std::vector<uint64_t>>(std::vector<uint64_t>{12345});
  auto grad = std::make_shared<std::vector<float>>(std::vector<float>{-1.0f});
  auto run = [&](bool fast) {
    TestWorker w(lc.scheduler_endpoint());
    ASSERT_TRUE(w.Start().ok());
    ASSERT_TRUE(w.kv.CreateTable(SgdTable(1, 1)).ok());
    ASSERT_TRUE(w.node.Barrier(wire::WORKER).ok());
    for (int c = 0; c < steps; ++c) {
      float v = 0;
      ASSERT_TRUE(w.kv.Wait(w.kv.Pull(1, key, 1, &v)).ok());
      if (fast) {
        const int slow_done = static_cast<int>(v) - c;
        const int lag = c - slow_done;
        report.max_lag = std::max(report.max_lag, lag);
        if (max_delay >= 0 && lag > max_delay) ++report.violations;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
      if (clock_on_push) {
        ASSERT_TRUE(w.kv.Wait(w.kv.Push({{1, key, grad, 1}}, /*end_of_step=*/true)).ok());
      } else {
        ASSERT_TRUE(w.kv.Wait(w.kv.Push(1, key, grad, 1)).ok());
        w.kv.Tick();
      }
    }
    EXPECT_TRUE(w.Finish().ok());
  };
  // Ranks follow registration order; run the slow worker as whichever thread gets rank 1.
  std::thread a(run, true), b(run, false);
  a.join();
  b.join();
  auto r = lc.Wait();
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  return report;
}

// A worker's replies on links are read by whichever of its threads waits (Van::Pump): with
// several threads waiting at once, one reads for all and hands over when its own request
// is done, so every thread's requests complete with the right values.
TEST(ClusterTest, ThreadsWaitingAtOnceShareTheReadingOfReplies) {
  launcher::LocalCluster lc(ClusterOptions(/*servers=*/1, /*external_workers=*/1));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint());
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.node.van().pumps_links());
  ASSERT_EQ(w.node.van().PeerAddress(w.node.table().servers.at(0).id()).rfind("unix://", 0), 0u);
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(1, 1)).ok());
  constexpr int kThreads = 4, kRounds = 200;
  std::atomic<int> failures{0};
  auto run = [&](int t) {
    // Each thread its own keys: SGD with lr 1 leaves w = -(sum of its gradients).
    auto keys = std::make_shared<std::vector<uint64_t>>();
    for (uint64_t k = 0; k < 64; ++k) keys->push_back((k * kThreads + t) << 40);
    std::vector<float> out(keys->size());
    for (int r = 1; r <= kRounds; ++r) {
      auto g = std::make_shared<std::vector<float>>(keys->size(), -1.0f);
      if (!w.kv.Wait(w.kv.Push(1, keys, g, 1)).ok()) ++failures;
      if (!w.kv.Wait(w.kv.Pull(1, keys, 1, out.data())).ok()) ++failures;
      for (float v : out) {
        if (v != static_cast<float>(r)) ++failures;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(run, t);
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(w.Finish().ok());
  EXPECT_TRUE(lc.Wait().status.ok());
}

TEST(ClusterTest, BspPullSeesEveryWorkersPreviousMinibatch) {
  LagReport r = RunClockedSteps(/*max_delay=*/0, 15);
  EXPECT_EQ(r.violations, 0);
  EXPECT_EQ(r.max_lag, 0);
}

TEST(ClusterTest, BoundedDelayLetsFastWorkerRunAheadByAtMostK) {
  LagReport r = RunClockedSteps(/*max_delay=*/2, 15);
  EXPECT_EQ(r.violations, 0);
  EXPECT_EQ(r.max_lag, 2);  // the fast worker does run ahead, up to the bound
}

TEST(ClusterTest, PushThatEndsTheStepKeepsTheSameBounds) {
  LagReport bsp = RunClockedSteps(/*max_delay=*/0, 10, /*clock_on_push=*/true);
  EXPECT_EQ(bsp.violations, 0);
  EXPECT_EQ(bsp.max_lag, 0);
  LagReport bounded = RunClockedSteps(/*max_delay=*/2, 10, /*clock_on_push=*/true);
  EXPECT_EQ(bounded.violations, 0);
  EXPECT_EQ(bounded.max_lag, 2);
}

TEST(ClusterTest, AsynchronousNeverWaits) {
  LagReport r = RunClockedSteps(/*max_delay=*/-1, 15);
  EXPECT_GE(r.max_lag, 8);  // the slow worker sleeps; the fast one does not wait for it
}

TEST(ClusterTest, ReducingBarrierGivesEveryWorkerTheSameSumsAndMaxima) {
  launcher::LocalCluster lc(ClusterOptions(/*servers=*/1, /*external_workers=*/3));
  ASSERT_TRUE(lc.Start().ok());
  std::vector<std::vector<double>> sums(3), maxima(3);
  std::vector<Status> mismatch(3);
  auto run = [&](int i) {
    TestWorker w(lc.scheduler_endpoint());
    ASSERT_TRUE(w.Start().ok());
    const int r = w.node.rank();
    // Values whose float sum depends on the order: 1e16 + 1 - 1e16.
    sums[i] = {r == 0 ? 1e16 : (r == 1 ? 1.0 : -1e16), double(r + 1)};
    maxima[i] = {double(-r), 0.5 * r};
    ASSERT_TRUE(w.node.AllReduce(wire::WORKER, &sums[i], &maxima[i]).ok());
    // A second reduction where one worker passes a different number of values.
    std::vector<double> s(r == 2 ? 2 : 1, 1.0), m;
    mismatch[i] = w.node.AllReduce(wire::WORKER, &s, &m);
    EXPECT_TRUE(w.Finish().ok());
  };
  std::thread a(run, 0), b(run, 1), c(run, 2);
  a.join();
  b.join();
  c.join();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sums[i].size(), 2u);
    EXPECT_EQ(sums[i][1], 6.0);
    EXPECT_EQ(maxima[i], (std::vector<double>{0.0, 1.0}));
    // Summed in rank order ((1e16 + 1) - 1e16 == 0 in doubles), the same bits everywhere.
    EXPECT_EQ(sums[i][0], sums[0][0]);
    EXPECT_EQ(mismatch[i].code(), Code::kInternal) << mismatch[i].ToString();
    EXPECT_NE(mismatch[i].message().find("different numbers of values"), std::string::npos);
  }
  EXPECT_TRUE(lc.Wait().status.ok());
}

// SIGSTOP is asynchronous: wait until the kernel reports the process stopped.
void WaitStopped(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_s, comm, state;
    stat >> pid_s >> comm >> state;
    if (state == "T" || state == "t") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ADD_FAILURE() << "process " << pid << " did not stop";
}

// One real kv_bench worker process and one in-process worker under BSP.
launcher::LocalClusterOptions OneProcessWorker(int heartbeat_timeout_ms) {
  auto o = ClusterOptions(1, 1, /*max_delay=*/0);
  o.heartbeat_timeout_ms = heartbeat_timeout_ms;
  o.workers = 1;
  o.worker_args = {"--task=kv_bench", "--keys=1000", "--seconds=600"};
  return o;
}

// Three clocked steps of the in-process worker: under BSP they go through only while
// the servers do not wait on the process worker's clock.
Status ThreeSteps(TestWorker* w) {
  auto key = std::make_shared<std::vector<uint64_t>>(std::vector<uint64_t>{1});
  auto grad = std::make_shared<std::vector<float>>(std::vector<float>{1.0f});
  for (int c = 0; c < 3; ++c) {
    float v;
    SPARROW_RETURN_IF_ERROR(w->kv.Wait(w->kv.Pull(3, key, 1, &v)));
    SPARROW_RETURN_IF_ERROR(w->kv.Wait(w->kv.Push(3, key, grad, 1)));
    w->kv.Tick();
  }
  return Status::Ok();
}

TEST(ClusterTest, SilentWorkerIsDeclaredDeadAndTheRestGoOn) {
  // A stopped process is alive to the kernel: only its silence tells.
  launcher::LocalCluster lc(OneProcessWorker(/*heartbeat_timeout_ms=*/3000));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint());
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(3, 1)).ok());
  lc.worker(0).Signal(SIGSTOP);
  WaitStopped(lc.worker(0).pid());
  EXPECT_TRUE(ThreeSteps(&w).ok());
  lc.worker(0).Signal(SIGKILL);  // already dead to the cluster: its exit changes nothing
  (void)w.Finish();
  const auto r = lc.Wait();
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("declared dead"), std::string::npos) << r.status.message();
  EXPECT_EQ(r.status.message().find("killed by"), std::string::npos) << r.status.message();
  EXPECT_EQ(r.worker_exits[0], -SIGKILL);
  for (int e : r.server_exits) EXPECT_EQ(e, 0);  // an orderly exit; the scheduler reports
}

TEST(ClusterTest, KilledWorkerEndsTheRunAtOnceSayingHow) {
  // Ten minutes of heartbeat timeout: only the exit itself can end this run in time.
  launcher::LocalCluster lc(OneProcessWorker(/*heartbeat_timeout_ms=*/600000));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint());
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(3, 1)).ok());
  const pid_t pid = lc.worker(0).pid();
  lc.worker(0).Signal(SIGSEGV);
  EXPECT_FALSE(w.node.WaitForShutdown().ok());
  w.node.Stop();
  const auto r = lc.Wait();
  EXPECT_FALSE(r.status.ok());
  const std::string& why = r.status.message();
  EXPECT_NE(why.find("WORKER"), std::string::npos) << why;
  EXPECT_NE(why.find("pid " + std::to_string(pid) + " "), std::string::npos) << why;
  EXPECT_NE(why.find("killed by SIGSEGV"), std::string::npos) << why;
  EXPECT_EQ(why.find("declared dead"), std::string::npos) << why;
  EXPECT_EQ(r.worker_exits[0], -SIGSEGV);
  for (int e : r.server_exits) EXPECT_EQ(e, 0);
}

TEST(ClusterTest, CrashedWorkerLeavesAStackTraceTheRunNames) {
  launcher::LocalClusterOptions o = OneProcessWorker(/*heartbeat_timeout_ms=*/600000);
  const std::string logs = ::testing::TempDir() + "/crash-logs-" + std::to_string(getpid());
  std::filesystem::create_directories(logs);
  o.log_dir = logs;
  launcher::LocalCluster lc(o);
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint());
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(3, 1)).ok());
  lc.worker(0).Signal(SIGABRT);
  EXPECT_FALSE(w.node.WaitForShutdown().ok());
  w.node.Stop();
  const auto r = lc.Wait();
  const std::string& why = r.status.message();
  EXPECT_NE(why.find("killed by SIGABRT"), std::string::npos) << why;
  EXPECT_NE(why.find("its log " + logs + "/worker-0.log ends: in sparrow::"), std::string::npos)
      << why;
  std::ifstream in(logs + "/worker-0.log");
  const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("*** SIGABRT"), std::string::npos) << log;
  EXPECT_NE(log.find("sparrow::tools::RunWorker"), std::string::npos) << log;
  std::filesystem::remove_all(logs);
}

TEST(ClusterTest, TerminatedWorkerSaysWhyAndTheRestGoOnAtOnce) {
  // A minute-long heartbeat timeout: the point is that nobody waits for it.
  launcher::LocalCluster lc(OneProcessWorker(/*heartbeat_timeout_ms=*/60000));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint());
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(3, 1)).ok());
  lc.worker(0).Signal(SIGTERM);
  EXPECT_TRUE(ThreeSteps(&w).ok());
  (void)w.Finish();
  const auto r = lc.Wait();
  EXPECT_FALSE(r.status.ok());
  // It said why before it left, so its exit status is not the reason.
  EXPECT_NE(r.status.message().find("worker got signal 15"), std::string::npos)
      << r.status.message();
  EXPECT_EQ(r.status.message().find("exited with status"), std::string::npos) << r.status.message();
  EXPECT_EQ(r.worker_exits[0], 1);
}

TEST(ClusterTest, SilentServerTimesOutWithItsName) {
  launcher::LocalCluster lc(ClusterOptions(1, 1));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint(), /*request_timeout_ms=*/500);
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(1, 1)).ok());
  lc.server(0).Signal(SIGSTOP);
  WaitStopped(lc.server(0).pid());
  auto key = std::make_shared<std::vector<uint64_t>>(std::vector<uint64_t>{9});
  float v;
  Status st = w.kv.Wait(w.kv.Pull(1, key, 1, &v));
  lc.server(0).Signal(SIGCONT);
  EXPECT_EQ(st.code(), Code::kDeadlineExceeded);
  EXPECT_NE(st.message().find("no reply from server 0 (node 1 at tcp://127.0.0.1:"),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(w.Finish().ok());
  EXPECT_TRUE(lc.Wait().status.ok());
}

// A server that stops answering for longer than the request timeout gets the push again
// (same request id) and, once it runs on, applies it once and answers both copies.
TEST(ClusterTest, PushSentAgainAfterATimeoutIsAppliedOnce) {
  launcher::LocalCluster lc(ClusterOptions(1, 1));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint(), /*request_timeout_ms=*/200, /*local_ipc=*/true,
               /*retries=*/1000000);
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(1, 1)).ok());
  lc.server(0).Signal(SIGSTOP);
  WaitStopped(lc.server(0).pid());
  auto key = std::make_shared<std::vector<uint64_t>>(std::vector<uint64_t>{9});
  auto grad = std::make_shared<std::vector<float>>(std::vector<float>{-1.0f});
  const worker::Ticket push = w.kv.Push(1, key, grad, 1);
  while (w.kv.retries_sent() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  lc.server(0).Signal(SIGCONT);
  EXPECT_TRUE(w.kv.Wait(push).ok());
  float v = 0;
  ASSERT_TRUE(w.kv.Wait(w.kv.Pull(1, key, 1, &v)).ok());
  EXPECT_EQ(v, 1.0f);  // SGD, rate 1: one application of -1
  EXPECT_TRUE(w.Finish().ok());
  EXPECT_TRUE(lc.Wait().status.ok());
}

TEST(ClusterTest, DeadServerFailsPendingRequestsAndEndsTheCluster) {
  launcher::LocalCluster lc(ClusterOptions(2, 1));
  ASSERT_TRUE(lc.Start().ok());
  TestWorker w(lc.scheduler_endpoint());
  ASSERT_TRUE(w.Start().ok());
  ASSERT_TRUE(w.kv.CreateTable(SgdTable(1, 1)).ok());
  lc.server(1).Signal(SIGKILL);
  int rank = -1;
  for (const auto& s : w.node.table().servers) {
    if (s.pid() == lc.server(1).pid()) rank = s.rank();
  }
  ASSERT_EQ(rank, 1);  // the launcher asks for its spawn index (--rank), so logs match ranks
  auto keys = SpreadKeys(100, 5);
  std::vector<float> out(keys->size());
  Status st = w.kv.Wait(w.kv.Pull(1, keys, 1, out.data()));
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("server " + std::to_string(rank)), std::string::npos) << st.message();
  // Declared dead by the scheduler, or found gone first by the link to it.
  EXPECT_TRUE(st.message().find("declared dead") != std::string::npos ||
              st.message().find("unreachable") != std::string::npos)
      << st.message();
  EXPECT_FALSE(w.node.WaitForShutdown().ok());
  w.node.Stop();
  auto r = lc.Wait();
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("SERVER " + std::to_string(rank)), std::string::npos)
      << r.status.message();
}

}  // namespace
}  // namespace sparrow::testing
