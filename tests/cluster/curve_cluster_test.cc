// A CURVE cluster of real processes: the scheduler (in this process), a server process and
// workers in this process, all over TCP with the run's keypair. A node with another
// cluster's keys cannot join, and the cluster runs on without it.
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "tests/cluster/test_cluster.h"
#include "transport/curve.h"

namespace sparrow::testing {
namespace {

std::string KeysFile(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("sparrow-curve-cluster-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::filesystem::remove(path);
  auto keys = transport::NewCurveKeys();
  EXPECT_TRUE(keys.ok());
  EXPECT_TRUE(transport::WriteCurveKeys(path, *keys).ok());
  return path;
}

TEST(CurveClusterTest, ANodeWithAnotherClustersKeysIsRefusedAndTheRunGoesOn) {
  const std::string ours = KeysFile("ours.keys"), theirs = KeysFile("theirs.keys");
  launcher::LocalClusterOptions o = ClusterOptions(/*servers=*/1, /*external_workers=*/1);
  o.local_ipc = false;  // server and worker over TCP, so over CURVE
  o.curve_keys = ours;
  launcher::LocalCluster lc(o);
  ASSERT_TRUE(lc.Start().ok());

  // The intruder would take the one worker slot if the scheduler let it register.
  cluster::NodeOptions bad = TestWorker::Options(lc.scheduler_endpoint(), false);
  bad.curve_keys = theirs;
  bad.register_timeout_ms = 1500;
  cluster::Node intruder(bad);
  Status st = intruder.Start([](transport::Message&&) {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(theirs), std::string::npos) << st.message();
  intruder.Stop();

  // The worker with the cluster's keys (TestWorker has no keys option) joins and works.
  cluster::NodeOptions good = TestWorker::Options(lc.scheduler_endpoint(), false);
  good.curve_keys = ours;
  cluster::Node node(good);
  worker::KVClient kv(&node, {20000});
  kv.Attach();
  ASSERT_TRUE(node.Start([&kv](transport::Message&& m) { kv.Handle(std::move(m)); }).ok());
  ASSERT_TRUE(node.van().curve());
  ASSERT_TRUE(kv.CreateTable(SgdTable(1, 2)).ok());
  auto keys = std::make_shared<std::vector<uint64_t>>();
  for (uint64_t k = 1; k <= 1000; ++k) keys->push_back(k * 0x9e3779b97f4a7c15ULL);
  std::sort(keys->begin(), keys->end());
  auto g = std::make_shared<std::vector<float>>(keys->size() * 2, -1.5f);
  ASSERT_TRUE(kv.Wait(kv.Push(1, keys, g, 2)).ok());
  std::vector<float> out(keys->size() * 2);
  ASSERT_TRUE(kv.Wait(kv.Pull(1, keys, 2, out.data())).ok());
  for (float v : out) ASSERT_EQ(v, 1.5f);
  kv.FinishClock();
  node.Finish(false, "");
  EXPECT_TRUE(node.WaitForShutdown().ok());
  node.Stop();
  auto r = lc.Wait();
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  for (int e : r.server_exits) EXPECT_EQ(e, 0);
}

}  // namespace
}  // namespace sparrow::testing
