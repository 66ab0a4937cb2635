// Experiment configs: every shipped config loads, overrides reach nested fields, and bad
// text or values are errors that name the file, position and field.
#include "experiment/experiment.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace sparrow::experiment {
namespace {

namespace fs = std::filesystem;

TEST(ExperimentTest, EveryShippedTrainingConfigLoads) {
  size_t loaded = 0;
  for (const auto& entry : fs::directory_iterator(std::string(SPARROW_SOURCE_DIR) + "/configs")) {
    const std::string name = entry.path().filename();
    // serve*.conf are daemon configs (a different schema, tested with the daemon).
    if (entry.path().extension() != ".conf" || name.rfind("serve", 0) == 0) continue;
    auto cfg = LoadExperiment(entry.path(), {});
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    EXPECT_EQ(cfg->name(), entry.path().stem().string()) << "a config is named after its file";
    auto spec = ModelSpecOfModel(cfg->model(), /*num_fields=*/4);
    EXPECT_TRUE(spec.ok()) << name << ": " << spec.status().message();
    ++loaded;
  }
  EXPECT_GE(loaded, 8u);  // demo + the seven issue configs
}

constexpr char kMinimal[] = R"(
data { train: "x.csv" split { modulus: 5 test_residues: 0 } }
model { kind: FM k: 4 }
)";

TEST(ExperimentTest, OverridesReachNestedFieldsAndEnums) {
  auto cfg = ParseExperiment(kMinimal, "min.conf");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_TRUE(ApplyOverride("train.epochs=7", &*cfg).ok());
  ASSERT_TRUE(ApplyOverride("model.kind=FFM", &*cfg).ok());
  ASSERT_TRUE(ApplyOverride("optimizer.factors.adagrad.learning_rate=0.5", &*cfg).ok());
  ASSERT_TRUE(ApplyOverride("data.train=y.csv", &*cfg).ok());  // bare string, repeated
  EXPECT_EQ(cfg->train().epochs(), 7u);
  EXPECT_EQ(cfg->model().kind(), config::ModelConfig::FFM);
  EXPECT_FLOAT_EQ(cfg->optimizer().factors().adagrad().learning_rate(), 0.5f);
  ASSERT_EQ(cfg->data().train_size(), 1);
  EXPECT_EQ(cfg->data().train(0), "y.csv");
}

TEST(ExperimentTest, BadOverridesNameThePathAndTheReason) {
  auto cfg = ParseExperiment(kMinimal, "min.conf");
  ASSERT_TRUE(cfg.ok());
  Status st = ApplyOverride("train.epoch=3", &*cfg);
  EXPECT_NE(st.message().find("has no field 'epoch'"), std::string::npos) << st.message();
  st = ApplyOverride("train.epochs=many", &*cfg);
  EXPECT_NE(st.message().find("'many' is not a valid"), std::string::npos) << st.message();
  st = ApplyOverride("model.kind=TREES", &*cfg);
  EXPECT_NE(st.message().find("of Kind"), std::string::npos) << st.message();
  st = ApplyOverride("model=3", &*cfg);
  EXPECT_NE(st.message().find("is a message"), std::string::npos) << st.message();
  st = ApplyOverride("train.epochs", &*cfg);
  EXPECT_NE(st.message().find("expected FIELD.PATH=VALUE"), std::string::npos) << st.message();
}

TEST(ExperimentTest, ParseErrorsGiveFileLineAndColumn) {
  auto cfg = ParseExperiment("model { kind: FM }\ntrain { epoch: 3 }\n", "bad.conf");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().message().rfind("bad.conf:2:", 0), 0u) << cfg.status().message();
  EXPECT_NE(cfg.status().message().find("epoch"), std::string::npos);
}

TEST(ExperimentTest, LoadChecksValuesAndFillsDefaults) {
  const std::string path = fs::temp_directory_path() / "sparrow-experiment-test.conf";
  ASSERT_TRUE(WriteTextFile(path, kMinimal).ok());
  auto cfg = LoadExperiment(path, {});
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  EXPECT_EQ(cfg->name(), "sparrow-experiment-test");
  EXPECT_EQ(cfg->output().dir(), "runs/sparrow-experiment-test");
  EXPECT_TRUE(cfg->optimizer().linear().has_ftrl());
  EXPECT_TRUE(cfg->optimizer().factors().has_adagrad());
  for (const auto& [set, field] : std::vector<std::pair<std::string, std::string>>{
           {"train.epochs=0", "train.epochs"},
           {"model.k=0", "model.k"},
           {"cluster.servers=0", "cluster.servers"},
           {"train.early_stopping_rounds=2", "train.validation_fraction"}}) {
    auto bad = LoadExperiment(path, {set});
    ASSERT_FALSE(bad.ok()) << set;
    EXPECT_NE(bad.status().message().find(field), std::string::npos) << bad.status().message();
  }
  fs::remove(path);
}

}  // namespace
}  // namespace sparrow::experiment
