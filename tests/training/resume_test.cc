// Stop and resume: a `sparrow train` launcher killed with SIGKILL mid-run (its servers and
// workers die with it) continues with `--resume` from its newest usable checkpoint and,
// under BSP with one worker, ends with the model file an uninterrupted run writes, byte
// for byte. Real processes, real files; synthetic data, so nothing external is needed.
#include <gtest/gtest.h>
#include <signal.h>

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

TEST(ResumeTest, KilledLauncherResumesToTheSameModelPastACorruptCheckpoint) {
  const std::string dir = TempDir("resume");
  const std::string csv = dir + "/credit.csv";
  Outcome s = Sparrow({"synth", "--kind=credit", "--rows=200000", "--seed=5", "--output=" + csv});
  ASSERT_EQ(s.exit, 0) << s.err;
  const std::vector<std::string> config = {
      "configs/demo.conf",          "--set", "data.train=" + csv,     "--set",
      "cluster.servers=1",          "--set", "cluster.workers=1",     "--set",
      "cluster.max_delay=0",        "--set", "train.epochs=16",       "--set",
      "checkpoint.every_seconds=0", "--set", "checkpoint.keep_last=3"};
  auto train = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> args = {"train"};
    args.insert(args.end(), config.begin(), config.end());
    args.push_back("--out=" + out);
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };

  const Outcome whole = Sparrow(train(dir + "/whole", {}));
  ASSERT_EQ(whole.exit, 0) << whole.out << whole.err;

  // The same run, its launcher killed once its third checkpoint is complete.
  const std::string cut = dir + "/cut";
  auto launcher = StartSparrow(train(cut, {}), dir + "/cut.out", dir + "/cut.err");
  ASSERT_TRUE(launcher.ok());
  const std::string third = checkpoint::EpochDir(cut, 3) + "/MANIFEST";
  while (!fs::exists(third) && launcher->running() && !launcher->Wait(0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  launcher->Signal(SIGKILL);
  ASSERT_EQ(launcher->Wait(-1), -SIGKILL) << "the run ended before it could be killed:\n"
                                          << Slurp(dir + "/cut.out") << Slurp(dir + "/cut.err");
  ASSERT_FALSE(fs::exists(cut + "/model.bin"));

  // The newest complete checkpoint is damaged: the one before it is used.
  auto newest = checkpoint::FindNewest(cut);
  ASSERT_TRUE(newest.ok()) << newest.status().message();
  const uint32_t newest_epoch = newest->manifest.epoch();
  ASSERT_GE(newest_epoch, 3u);
  const std::string part = checkpoint::ServerPart(newest->dir, 0);
  {
    std::fstream f(part, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(part) / 2));
    f.put('\x5a');
  }

  const Outcome resumed = Sparrow(train(cut, {"--resume"}));
  ASSERT_EQ(resumed.exit, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find(newest->dir + " is not a usable checkpoint"), std::string::npos)
      << resumed.out;
  EXPECT_NE(resumed.out.find("continuing after epoch " + std::to_string(newest_epoch - 1)),
            std::string::npos)
      << resumed.out;
  EXPECT_EQ(Slurp(cut + "/model.bin"), Slurp(dir + "/whole/model.bin"));

  // metrics.json covers the whole run: every epoch once, in order, every row each time.
  const auto a = ReadJson(dir + "/whole/metrics.json");
  const auto b = ReadJson(cut + "/metrics.json");
  EXPECT_EQ(b["resumed_after_epoch"].get<int>(), static_cast<int>(newest_epoch) - 1);
  ASSERT_EQ(b["history"].size(), 16u);
  for (size_t e = 0; e < 16; ++e) {
    EXPECT_EQ(b["history"][e]["epoch"].get<int>(), static_cast<int>(e) + 1);
    EXPECT_EQ(b["history"][e]["rows"], a["history"][e]["rows"]);
    EXPECT_EQ(b["history"][e]["test"]["auc"], a["history"][e]["test"]["auc"]) << e;
  }
  EXPECT_EQ(b["test"], a["test"]);
  fs::remove_all(dir);
}

TEST(ResumeTest, ResumingARunWithoutCheckpointsStartsItOver) {
  const std::string dir = TempDir("resume-none");
  const std::string csv = dir + "/credit.csv";
  ASSERT_EQ(Sparrow({"synth", "--kind=credit", "--rows=5000", "--seed=2", "--output=" + csv}).exit,
            0);
  const Outcome r = Sparrow({"train", "configs/demo.conf", "--set", "data.train=" + csv, "--set",
                             "train.epochs=2", "--out=" + dir + "/run", "--resume"});
  ASSERT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("holds no run yet; starting it"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/run/model.bin"));
  // Its checkpoint was never due (60 s by default), so a second resume starts over too.
  const Outcome again =
      Sparrow({"train", "configs/demo.conf", "--out=" + dir + "/run", "--resume"});
  ASSERT_EQ(again.exit, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("no complete checkpoint under"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("training from the start"), std::string::npos) << again.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sparrow
