// Data-parallel training across cluster layouts: every shipped config trains with
// 1 server and 1 worker, 2 servers and 2 workers, and 1 server and 4 workers, as real
// `sparrow train` runs; each layout must finish, score every test row, visit every
// training row each epoch, and reach the single-worker test metric within a tolerance.
// (Several workers see a shard each and read weights up to max_delay steps stale, so
// the metric moves a little; it must not move more than that.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/shared_data.h"
#include "tests/training/run_sparrow.h"

namespace sparrow {
namespace {

using testing::Outcome;
using testing::ReadJson;
using testing::Sparrow;
using testing::TempDir;

struct Layout {
  int servers, workers;
};

struct Case {
  const char* config;  // configs/<config>.conf
  const char* data;    // what it reads under ../shared/data; null: synthetic (demo)
  double tolerance;    // on the test metric, versus one worker
};

// AUC within 0.005, Poisson deviance within 0.003. talkingdata_ffm's test split holds
// about 45 positives, so its AUC moves by up to 0.02 with any change (the config says so).
const Case kCases[] = {
    {"demo", nullptr, 0.005},
    {"a9a_lr", "a9a/a9a", 0.005},
    {"a9a_fm", "a9a/a9a", 0.005},
    {"gmsc_lr", "give_me_some_credit/cs-training.csv", 0.005},
    {"gmsc_fm", "give_me_some_credit/cs-training.csv", 0.005},
    {"fremtpl_poisson", "freMTPL2freq/freMTPL2freq.csv", 0.003},
    {"fremtpl_ffm", "freMTPL2freq/freMTPL2freq.csv", 0.003},
    {"talkingdata_ffm", "talkingdata/train_sample.csv", 0.02},
};

struct Trained {
  std::string metric;
  double value = 0, examples_per_s = 0;
  double test_count = 0;
  std::vector<uint64_t> rows;  // training rows visited, by epoch
};

// Trains `c` on `layout` and reads what its metrics.json says.
Trained Train(const Case& c, const Layout& layout, const std::vector<std::string>& extra) {
  const std::string dir = TempDir(std::string(c.config) + "-" + std::to_string(layout.servers) +
                                  "x" + std::to_string(layout.workers));
  std::vector<std::string> args = {"train",
                                   std::string("configs/") + c.config + ".conf",
                                   "--out=" + dir,
                                   "--set",
                                   "cluster.servers=" + std::to_string(layout.servers),
                                   "--set",
                                   "cluster.workers=" + std::to_string(layout.workers)};
  args.insert(args.end(), extra.begin(), extra.end());
  const Outcome r = Sparrow(args);
  Trained run;
  EXPECT_EQ(r.exit, 0) << c.config << " on " << layout.servers << " server(s), " << layout.workers
                       << " worker(s):\n"
                       << r.out << r.err;
  if (r.exit != 0) return run;
  const auto m = ReadJson(dir + "/metrics.json");
  const auto& test = m["test"];
  run.metric = test.contains("auc") ? "auc" : "poisson_deviance";
  run.value = test[run.metric].get<double>();
  run.test_count = test["count"].get<double>();
  run.examples_per_s = m["examples_per_s"].get<double>();
  for (const auto& e : m["history"]) run.rows.push_back(e["rows"].get<uint64_t>());
  // Every role's peak memory is reported (the kernel's count for each child).
  for (const char* role : {"scheduler", "server", "worker"}) {
    EXPECT_GT(m["peak_rss_mb"][role].get<double>(), 1.0) << c.config << " " << role;
  }
  EXPECT_EQ(m["storage"], "MEMORY");
  std::printf("matrix: %-16s S=%d W=%d exit=0 %s=%.4f examples_per_s=%.0f\n", c.config,
              layout.servers, layout.workers, run.metric.c_str(), run.value, run.examples_per_s);
  std::filesystem::remove_all(dir);
  return run;
}

class WorkerMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(WorkerMatrix, EveryLayoutTrainsToTheSingleWorkerMetric) {
  const Case& c = GetParam();
  std::vector<std::string> extra;
  std::string synth_dir;
  if (c.data != nullptr) {
    SPARROW_NEED_SHARED_DATA(c.data);
  } else {  // the demo config reads data that scripts/demo.sh generates: generate it here
    synth_dir = TempDir("matrix-synth");
    const std::string csv = synth_dir + "/credit.csv";
    const Outcome s =
        Sparrow({"synth", "--kind=credit", "--rows=100000", "--seed=1", "--output=" + csv});
    ASSERT_EQ(s.exit, 0) << s.err;
    extra = {"--set", "data.train=" + csv};
  }
  const Trained one = Train(c, {1, 1}, extra);
  ASSERT_FALSE(one.rows.empty());
  for (const Layout& layout : {Layout{2, 2}, Layout{1, 4}}) {
    const Trained many = Train(c, layout, extra);
    ASSERT_EQ(many.metric, one.metric);
    EXPECT_NEAR(many.value, one.value, c.tolerance)
        << c.config << " " << many.metric << " on " << layout.servers << "x" << layout.workers;
    EXPECT_EQ(many.test_count, one.test_count) << "every test row is scored once";
    EXPECT_EQ(many.rows, one.rows) << "every training row is visited once an epoch";
  }
  if (!synth_dir.empty()) std::filesystem::remove_all(synth_dir);
}

INSTANTIATE_TEST_SUITE_P(ShippedConfigs, WorkerMatrix, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.config);
                         });

}  // namespace
}  // namespace sparrow
