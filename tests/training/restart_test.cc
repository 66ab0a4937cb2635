// Deaths during training cost a restart, not the run: `sparrow train` on 2 servers and 2
// workers, one server killed with SIGKILL after the second checkpoint and then one worker
// after a later one; the launcher rolls the cluster back to its newest checkpoint each
// time, exits 0, reports both restarts, and reaches the test AUC of an undisturbed run
// within 0.002. Real processes, real kills, synthetic data.
#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "tests/training/run_sparrow.h"

namespace sparrow {
namespace {

namespace fs = std::filesystem;
using testing::Outcome;
using testing::ReadJson;
using testing::Slurp;
using testing::Sparrow;
using testing::StartSparrow;
using testing::TempDir;

// The pid of `parent`'s child process running `sparrow <role>` (-1 if none).
pid_t ChildWithRole(pid_t parent, const std::string& role) {
  for (const auto& c : process::ChildrenOf(parent)) {
    if (c.command == role) return c.pid;
  }
  return -1;
}

// Whether `text` names process `pid` ("pid 123 on ..." or "(pid 123)").
bool NamesPid(const std::string& text, pid_t pid) {
  const std::string p = "pid " + std::to_string(pid);
  for (size_t at = text.find(p); at != std::string::npos; at = text.find(p, at + 1)) {
    const size_t next = at + p.size();
    if (next == text.size() || !std::isdigit(static_cast<unsigned char>(text[next]))) return true;
  }
  return false;
}

// Waits until `path` exists or the launcher ends; true if it exists.
bool AwaitFile(process::ChildProcess* launcher, const std::string& path) {
  while (!fs::exists(path)) {
    if (launcher->Wait(0)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(RestartTest, KilledServerAndWorkerCostARestartNotTheRun) {
  const std::string dir = TempDir("restart");
  const std::string csv = dir + "/credit.csv";
  ASSERT_EQ(
      Sparrow({"synth", "--kind=credit", "--rows=200000", "--seed=9", "--output=" + csv}).exit, 0);
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{
        "train", "configs/demo.conf",       "--set",       "data.train=" + csv,
        "--set", "cluster.servers=2",       "--set",       "cluster.workers=2",
        "--set", "train.epochs=24",         "--set",       "checkpoint.every_seconds=0",
        "--set", "checkpoint.keep_last=30", "--out=" + out};
  };
  const Outcome calm = Sparrow(args(dir + "/calm"));
  ASSERT_EQ(calm.exit, 0) << calm.out << calm.err;

  const std::string run = dir + "/chaos";
  auto launcher = StartSparrow(args(run), dir + "/chaos.out", dir + "/chaos.err");
  ASSERT_TRUE(launcher.ok());
  auto log = [&] { return Slurp(dir + "/chaos.out") + Slurp(dir + "/chaos.err"); };

  ASSERT_TRUE(AwaitFile(&*launcher, checkpoint::EpochDir(run, 2) + "/MANIFEST")) << log();
  const pid_t server = ChildWithRole(launcher->pid(), "server");
  ASSERT_GT(server, 0);
  ASSERT_EQ(kill(server, SIGKILL), 0);
  // After the restart (from epoch 2 or later), the next checkpoint comes from new nodes.
  ASSERT_TRUE(AwaitFile(&*launcher, dir + "/chaos/checkpoints/epoch-000006/MANIFEST")) << log();
  const pid_t worker = ChildWithRole(launcher->pid(), "worker");
  ASSERT_GT(worker, 0);
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  ASSERT_EQ(launcher->Wait(-1), 0) << log();

  const std::string out = log();
  EXPECT_TRUE(NamesPid(out, server)) << out;
  EXPECT_NE(out.find("killed by SIGKILL"), std::string::npos) << out;
  EXPECT_NE(out.find("restarting the cluster (1 of at most 3)"), std::string::npos) << out;
  EXPECT_NE(out.find("restarting the cluster (2 of at most 3)"), std::string::npos) << out;
  const auto m = ReadJson(run + "/metrics.json");
  ASSERT_EQ(m["restarts"].size(), 2u) << m["restarts"].dump();
  EXPECT_TRUE(NamesPid(m["restarts"][0]["reason"].get<std::string>(), server));
  EXPECT_TRUE(NamesPid(m["restarts"][1]["reason"].get<std::string>(), worker));
  EXPECT_GE(m["restarts"][0]["from_epoch"].get<int>(), 2);
  EXPECT_GE(m["restarts"][1]["from_epoch"].get<int>(), 6);
  for (const auto& r : m["restarts"]) EXPECT_GT(r["recovery_s"].get<double>(), 0);
  // Every epoch once, each over every training row.
  const auto c = ReadJson(dir + "/calm/metrics.json");
  ASSERT_EQ(m["history"].size(), 24u) << m["history"].dump() << "\n" << log();
  for (size_t e = 0; e < 24; ++e) {
    EXPECT_EQ(m["history"][e]["epoch"].get<int>(), static_cast<int>(e) + 1);
    EXPECT_EQ(m["history"][e]["rows"], c["history"][e]["rows"]);
  }
  EXPECT_NEAR(m["test"]["auc"].get<double>(), c["test"]["auc"].get<double>(), 0.002);
  EXPECT_EQ(m["test"]["count"], c["test"]["count"]);
  if (!HasFailure()) fs::remove_all(dir);  // else kept, for its logs
}

}  // namespace
}  // namespace sparrow
