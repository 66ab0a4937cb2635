// `sparrow train` end to end: real launcher, scheduler, server and worker processes on
// 127.0.0.1, real files; then predict/eval/inspect against what the run wrote.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "model_file/model_file.h"
#include "process/child_process.h"
#include "proto/data.pb.h"
#include "tests/shared_data.h"
#include "tests/training/run_sparrow.h"

namespace sparrow {
namespace {

namespace fs = std::filesystem;
using testing::Outcome;
using testing::ReadJson;
using testing::Slurp;
using testing::Sparrow;
using testing::TempDir;

TEST(TrainTest, A9aOnTwoServersTwoWorkersThenPredictAndEvalAgree) {
  SPARROW_NEED_SHARED_DATA("a9a/a9a");
  const std::string dir = TempDir("a9a");
  Outcome r = Sparrow({"train", "configs/a9a_lr.conf", "--out=" + dir, "--set", "cluster.servers=2",
                       "--set", "cluster.workers=2", "--set", "cluster.max_delay=2", "--set",
                       "train.epochs=3"});
  ASSERT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("epoch 3/3"), std::string::npos) << r.out;
  const auto m = ReadJson(dir + "/metrics.json");
  const double auc = m["test"]["auc"].get<double>();
  EXPECT_GE(auc, 0.89);
  EXPECT_EQ(m["test"]["count"].get<int>(), 16281);
  EXPECT_EQ(m["history"].size(), 3u);
  EXPECT_GT(m["examples_per_s"].get<double>(), 0);
  EXPECT_GT(m["bytes_per_key"].get<double>(), 0);
  EXPECT_TRUE(fs::exists(dir + "/report.html"));
  // The timeline's events come in the order they happen, within the run's wall time.
  const auto& tl = m["timeline_s"];
  double last = 0;
  for (const char* e : {"workers_started", "data_loaded", "training_done", "model_saved",
                        "cluster_stopped", "model_written"}) {
    ASSERT_TRUE(tl.contains(e)) << e << " missing from " << tl.dump();
    EXPECT_GE(tl[e].get<double>(), last - 0.002) << e;  // worker clocks are in ms
    last = tl[e].get<double>();
  }
  EXPECT_LE(last, m["wall_s"].get<double>());

  // eval recomputes the test metrics from the model file alone: the same numbers.
  Outcome e = Sparrow({"eval", "--model=" + dir + "/model.bin"});
  ASSERT_EQ(e.exit, 0) << e.err;
  const auto em = nlohmann::json::parse(e.out);
  EXPECT_NEAR(em["auc"].get<double>(), auc, 1e-9);
  EXPECT_NEAR(em["logloss"].get<double>(), m["test"]["logloss"].get<double>(), 1e-6);

  // predict writes one probability per test row, in input order.
  Outcome p = Sparrow({"predict", "--model=" + dir + "/model.bin",
                       "--data=" + std::string(SPARROW_SHARED_DATA) + "/a9a/a9a.t",
                       "--output=" + dir + "/p.txt"});
  ASSERT_EQ(p.exit, 0) << p.err;
  std::ifstream in(dir + "/p.txt");
  double x;
  size_t n = 0;
  while (in >> x) {
    ASSERT_GT(x, 0.0);
    ASSERT_LT(x, 1.0);
    ++n;
  }
  EXPECT_EQ(n, 16281u);

  Outcome i = Sparrow({"inspect", "--model=" + dir + "/model.bin"});
  ASSERT_EQ(i.exit, 0);
  EXPECT_NE(i.out.find("objective:  logistic"), std::string::npos) << i.out;
  fs::remove_all(dir);
}

// Synthetic credit data from the generator, trained with one worker under BSP.
class SyntheticTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(TempDir("synth"));
    Outcome s = Sparrow({"synth", "--kind=credit", "--rows=60000", "--seed=3",
                         "--output=" + *dir_ + "/credit.csv"});
    ASSERT_EQ(s.exit, 0) << s.err;
    std::ofstream c(*dir_ + "/synth.conf");
    c << "data { format: CSV train: \"" << *dir_ << "/credit.csv\"\n"
      << "  split { modulus: 5 test_residues: 0 }\n"
      << "  columns { label: \"default\"\n"
      << "    numeric { name: \"income\" } numeric { name: \"age\" }\n"
      << "    numeric { name: \"utilization\" } numeric { name: \"late_payments\" }\n"
      << "    categorical { name: \"city\" } categorical { name: \"merchant\" }\n"
      << "    categorical { name: \"channel\" } categorical { name: \"product\" } } }\n"
      << "model { kind: LR }\n"
      << "optimizer { linear { ftrl { alpha: 0.1 beta: 1 l1: 0 l2: 0.1 } } }\n"
      << "cluster { servers: 1 workers: 1 max_delay: 0 }\n"
      << "train { epochs: 4 batch_size: 200 }\n";
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static std::string* dir_;
};
std::string* SyntheticTest::dir_ = nullptr;

TEST_F(SyntheticTest, RecoversTheGeneratorsNumericWeights) {
  const std::string out = *dir_ + "/run";
  Outcome r = Sparrow({"train", *dir_ + "/synth.conf", "--out=" + out});
  ASSERT_EQ(r.exit, 0) << r.out << r.err;
  auto model = model_file::ReadModel(out + "/model.bin");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  data::SynthTruth truth;
  ASSERT_TRUE(
      google::protobuf::TextFormat::ParseFromString(Slurp(*dir_ + "/credit.csv.truth"), &truth));
  const auto& w = model->tables[0];
  int checked = 0;
  for (const auto& t : truth.weights()) {
    if (t.value() != "#") continue;  // numeric slopes: identifiable, unlike one-hot levels
    auto it = std::lower_bound(w.keys.begin(), w.keys.end(), t.key());
    ASSERT_TRUE(it != w.keys.end() && *it == t.key()) << t.column();
    const float learned = w.weights[it - w.keys.begin()];
    // Tolerance: 60k rows of a ~10% positive rate give slopes within ~0.05; 0.1 leaves
    // room for the L2 shrinkage.
    EXPECT_NEAR(learned, t.weight(), 0.1) << t.column();
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST_F(SyntheticTest, OneWorkerBspRunsGiveIdenticalModelFiles) {
  Outcome a =
      Sparrow({"train", *dir_ + "/synth.conf", "--out=" + *dir_ + "/a", "--set", "train.epochs=2"});
  Outcome b =
      Sparrow({"train", *dir_ + "/synth.conf", "--out=" + *dir_ + "/b", "--set", "train.epochs=2"});
  ASSERT_EQ(a.exit, 0) << a.err;
  ASSERT_EQ(b.exit, 0) << b.err;
  const std::string ma = Slurp(*dir_ + "/a/model.bin"), mb = Slurp(*dir_ + "/b/model.bin");
  EXPECT_GT(ma.size(), 100u);
  EXPECT_TRUE(ma == mb) << "model files differ";
}

// The orchestrator's path: `train --stage=prepare`, then scheduler, server and worker
// started by hand as separate processes, then `train --stage=finish`. One worker under
// BSP is deterministic, so the model must be the launcher's, byte for byte. The hand-started
// nodes talk over TCP, as across machines; the launcher's over Unix sockets.
TEST_F(SyntheticTest, OrchestratedRunGivesTheLaunchersModel) {
  const std::string a = *dir_ + "/by-launcher", b = *dir_ + "/by-hand";
  Outcome ra = Sparrow({"train", *dir_ + "/synth.conf", "--out=" + a, "--set", "train.epochs=2"});
  ASSERT_EQ(ra.exit, 0) << ra.err;
  Outcome prep = Sparrow(
      {"train", *dir_ + "/synth.conf", "--out=" + b, "--stage=prepare", "--set", "train.epochs=2"});
  ASSERT_EQ(prep.exit, 0) << prep.err;
  EXPECT_NE(prep.out.find("--stage=finish"), std::string::npos) << prep.out;
  EXPECT_FALSE(fs::exists(b + "/model.bin"));

  auto spawn = [&](std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), SPARROW_BINARY);
    process::SpawnOptions o;
    o.stderr_path = b + "/" + log;
    auto c = process::ChildProcess::Spawn(args, o);
    EXPECT_TRUE(c.ok());
    return std::move(c).value();
  };
  // The kernel picks the scheduler's port; the scheduler says which in a file.
  std::vector<process::ChildProcess> nodes;
  nodes.push_back(spawn({"scheduler", "--scheduler=127.0.0.1:0", "--endpoint_file=" + b + "/ep",
                         "--servers=1", "--workers=1", "--max_delay=0"},
                        "scheduler.log"));
  while (!fs::exists(b + "/ep") && !nodes[0].Wait(0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::string scheduler = Slurp(b + "/ep");
  ASSERT_FALSE(scheduler.empty()) << Slurp(b + "/scheduler.log");
  scheduler.pop_back();  // the newline
  nodes.push_back(spawn({"server", "--scheduler=" + scheduler, "--local_ipc=false"}, "server.log"));
  nodes.push_back(spawn(
      {"worker", "--scheduler=" + scheduler, "--local_ipc=false", "--task=train", "--run_dir=" + b},
      "worker.log"));
  for (auto& n : nodes) EXPECT_EQ(n.Wait(120000).value_or(-999), 0) << Slurp(b + "/worker.log");

  Outcome fin = Sparrow({"train", "--stage=finish", "--out=" + b});
  ASSERT_EQ(fin.exit, 0) << fin.out << fin.err;
  const std::string ma = Slurp(a + "/model.bin"), mb = Slurp(b + "/model.bin");
  EXPECT_GT(mb.size(), 100u);
  EXPECT_TRUE(ma == mb) << "the orchestrated run's model differs from the launcher's";
  const auto ja = ReadJson(a + "/metrics.json"), jb = ReadJson(b + "/metrics.json");
  EXPECT_EQ(ja["test"]["auc"], jb["test"]["auc"]);
  EXPECT_EQ(jb["history"].size(), 2u);
  EXPECT_GT(jb["wall_s"].get<double>(), 0.0);
  EXPECT_TRUE(fs::exists(b + "/report.html"));
  // Finishing a directory no worker wrote into says what is missing.
  Outcome none = Sparrow({"train", "--stage=finish", "--out=" + a + "-missing"});
  EXPECT_NE(none.exit, 0);
  EXPECT_NE(none.err.find("config.pbtxt"), std::string::npos) << none.err;
}

TEST_F(SyntheticTest, EarlyStoppingOnAValidationSplitEndsTheRunOnEveryWorker) {
  const std::string out = *dir_ + "/early";
  Outcome r = Sparrow({"train", *dir_ + "/synth.conf", "--out=" + out, "--set", "cluster.workers=2",
                       "--set", "train.epochs=200", "--set", "train.validation_fraction=0.2",
                       "--set", "train.early_stopping_rounds=1"});
  ASSERT_EQ(r.exit, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("early stop after epoch"), std::string::npos) << r.out;
  const auto m = ReadJson(out + "/metrics.json");
  const size_t epochs = m["history"].size();
  EXPECT_GE(epochs, 2u);
  EXPECT_LT(epochs, 200u);
  EXPECT_TRUE(m["history"][0]["validation_loss"].is_number());
  EXPECT_GT(m["test"]["auc"].get<double>(), 0.7);
}

TEST_F(SyntheticTest, FmWithAFactorThresholdScoresTheSameInEvalAsInTraining) {
  const std::string out = *dir_ + "/fm";
  Outcome r =
      Sparrow({"train", *dir_ + "/synth.conf", "--out=" + out, "--set", "model.kind=FM", "--set",
               "model.k=4", "--set", "model.factor_min_count=300", "--set", "train.epochs=2"});
  ASSERT_EQ(r.exit, 0) << r.out << r.err;
  const auto m = ReadJson(out + "/metrics.json");
  Outcome e = Sparrow({"eval", "--model=" + out + "/model.bin"});
  ASSERT_EQ(e.exit, 0) << e.err;
  const auto em = nlohmann::json::parse(e.out);
  // The rarer half of the keys never reached 300 minibatches: no factor row for them.
  auto model = model_file::ReadModel(out + "/model.bin");
  ASSERT_TRUE(model.ok());
  ASSERT_EQ(model->tables.size(), 2u);
  EXPECT_GT(model->tables[1].keys.size(), 0u);
  EXPECT_LT(model->tables[1].keys.size(), model->tables[0].keys.size());
  // Training scored them without interactions, and so does the model file.
  EXPECT_NEAR(em["auc"].get<double>(), m["test"]["auc"].get<double>(), 1e-9);
  EXPECT_NEAR(em["logloss"].get<double>(), m["test"]["logloss"].get<double>(), 1e-6);
}

TEST_F(SyntheticTest, CtrlCStopsEveryProcess) {
  const std::string out = *dir_ + "/interrupted";
  std::vector<std::string> argv = {SPARROW_BINARY, "train", *dir_ + "/synth.conf",
                                   "--out=" + out, "--set", "train.epochs=100000"};
  process::SpawnOptions o;
  o.capture_stdout = true;
  o.stderr_path = *dir_ + "/interrupted.err";
  auto child = process::ChildProcess::Spawn(argv, o);
  ASSERT_TRUE(child.ok());
  // Wait until training is under way (the first epoch line), then interrupt.
  std::string seen;
  char buf[256];
  while (seen.find("epoch 1/") == std::string::npos) {
    const ssize_t n = read(child->stdout_fd(), buf, sizeof(buf));
    ASSERT_GT(n, 0) << "launcher ended before its first epoch: " << Slurp(o.stderr_path);
    seen.append(buf, n);
  }
  child->Signal(SIGINT);
  auto exit = child->Wait(20000);
  ASSERT_TRUE(exit.has_value()) << "launcher did not stop after SIGINT";
  EXPECT_NE(*exit, 0);
  // No process of the cluster is left: none has the run directory on its command line.
  for (int i = 0; i < 100; ++i) {
    bool left = false;
    for (const auto& p : fs::directory_iterator("/proc")) {
      const std::string cmd = Slurp(p.path().string() + "/cmdline");
      if (cmd.find(out) != std::string::npos) left = true;
    }
    if (!left) return;
    usleep(50000);
  }
  ADD_FAILURE() << "cluster processes still running 5 s after the launcher stopped";
}

TEST(TrainTest, BadConfigNamesTheFieldAndPosition) {
  const std::string dir = TempDir("badconf");
  std::ofstream(dir + "/bad.conf") << "data { train: \"x.csv\" }\ntrain {\n  epoch: 3\n}\n";
  Outcome r = Sparrow({"train", dir + "/bad.conf"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find(dir + "/bad.conf:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("epoch"), std::string::npos) << r.err;

  std::ofstream(dir + "/bad2.conf") << "data { train: \"x.csv\" test: \"y.csv\" }\n"
                                    << "model { kind: SVM }\n";
  r = Sparrow({"train", dir + "/bad2.conf"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find("bad2.conf:2:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("SVM"), std::string::npos) << r.err;

  std::ofstream(dir + "/ok.conf") << "data { train: \"x.csv\" test: \"y.csv\" }\n";
  r = Sparrow({"train", dir + "/ok.conf", "--set", "model.kind=FM", "--set", "train.epochz=1"});
  EXPECT_EQ(r.exit, 2);
  EXPECT_NE(r.err.find("train.epochz"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

TEST(TrainTest, TruncatedModelFileIsRejected) {
  const std::string dir = TempDir("trunc");
  Outcome s = Sparrow(
      {"synth", "--kind=credit", "--rows=5000", "--seed=3", "--output=" + dir + "/credit.csv"});
  ASSERT_EQ(s.exit, 0) << s.err;
  Outcome r = Sparrow({"train", "configs/demo.conf", "--out=" + dir + "/run", "--set",
                       "data.train=" + dir + "/credit.csv", "--set", "train.epochs=1"});
  ASSERT_EQ(r.exit, 0) << r.err;
  const std::string bytes = Slurp(dir + "/run/model.bin");
  std::ofstream(dir + "/cut.bin", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  Outcome e = Sparrow({"eval", "--model=" + dir + "/cut.bin"});
  EXPECT_NE(e.exit, 0);
  EXPECT_NE(e.err.find("truncated"), std::string::npos) << e.err;
  std::string flipped = bytes;
  flipped[flipped.size() - 10] ^= 0x40;
  std::ofstream(dir + "/flip.bin", std::ios::binary) << flipped;
  e = Sparrow({"eval", "--model=" + dir + "/flip.bin"});
  EXPECT_NE(e.exit, 0);
  EXPECT_NE(e.err.find("CRC mismatch"), std::string::npos) << e.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sparrow
