// The synthetic generator: deterministic, file == stream, truth consistent with the data.
#include "data/synth.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::ReadAll;
using testing::Resolve;
using testing::Slurp;
using testing::TempDir;

TEST(SynthTest, FileAndStreamGiveTheSameRowsForEveryKind) {
  TempDir dir;
  for (const char* kind : {"credit", "ctr", "claims"}) {
    auto model = SynthModel::Create(kind, 5);
    ASSERT_TRUE(model.ok());
    std::string path = dir.File(std::string(kind) + ".csv");
    ASSERT_TRUE(WriteSynth(**model, 3000, path).ok());
    Result<DataSpec> spec = LoadDataSpec(path + ".spec");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    FeatureSpec fs = Resolve(*spec);
    EXPECT_EQ(Fingerprint(fs), Fingerprint((*model)->features())) << kind;
    Batch parsed;
    ReadOptions options;
    options.threads = 2;
    ASSERT_TRUE(ReadAll(*spec, fs, {path}, options, &parsed).ok());
    Batch streamed;
    streamed.has_fields = true;
    SynthStream stream(**model, 3000, 0, 1, 512);
    Batch b;
    while (stream.Next(&b)) streamed.AppendRows(b, 0, b.rows());
    EXPECT_TRUE(parsed == streamed) << kind;
    EXPECT_EQ(parsed.labels, streamed.labels);
    EXPECT_EQ(parsed.offsets, streamed.offsets);
    EXPECT_EQ(parsed.keys, streamed.keys);
    EXPECT_EQ(parsed.values, streamed.values);
    EXPECT_EQ(parsed.fields, streamed.fields);
    // The truth file parses and names the keys the data uses.
    SynthTruth truth;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(Slurp(path + ".truth"), &truth));
    std::set<uint64_t> keys;
    for (const auto& w : truth.weights()) keys.insert(w.key());
    for (uint64_t k : parsed.keys) ASSERT_TRUE(keys.count(k)) << kind;
    EXPECT_EQ(truth.weights(0).factor_size(), std::string(kind) == "ctr" ? 4 : 0);
  }
}

TEST(SynthTest, DeterministicForASeedAndShardable) {
  TempDir dir;
  auto a = SynthModel::Create("credit", 1);
  auto c = SynthModel::Create("credit", 2);
  ASSERT_TRUE(WriteSynth(**a, 1000, dir.File("a.csv")).ok());
  ASSERT_TRUE(WriteSynth(**a, 1000, dir.File("b.csv")).ok());
  ASSERT_TRUE(WriteSynth(**c, 1000, dir.File("c.csv")).ok());
  EXPECT_TRUE(Slurp(dir.File("a.csv")) == Slurp(dir.File("b.csv")));
  EXPECT_TRUE((*a)->Truth(1000, "x").SerializeAsString() ==
              (*a)->Truth(1000, "x").SerializeAsString());
  EXPECT_FALSE(Slurp(dir.File("a.csv")) == Slurp(dir.File("c.csv")));
  EXPECT_FALSE((*a)->Truth(1000, "x").SerializeAsString() ==
               (*c)->Truth(1000, "x").SerializeAsString());
  // Shard i of 3 holds rows i, i+3, ...: the same rows as the whole stream.
  Batch whole, b;
  SynthStream all(**a, 100, 0, 1, 1000);
  ASSERT_TRUE(all.Next(&whole));
  for (uint32_t i = 0; i < 3; ++i) {
    SynthStream shard(**a, 100, i, 3, 7);
    size_t r = i;
    while (shard.Next(&b)) {
      for (size_t k = 0; k < b.rows(); ++k, r += 3) {
        Batch one, want;
        one.AppendRow(b, k);
        want.AppendRow(whole, r);
        ASSERT_TRUE(one == want) << r;
      }
    }
    EXPECT_GE(r, 100u);
  }
}

TEST(SynthTest, LabelsFollowTheTruth) {
  auto model = SynthModel::Create("credit", 3);
  SynthTruth truth = (*model)->Truth(0, "");
  std::map<uint64_t, double> weight;
  for (const auto& w : truth.weights()) weight[w.key()] = w.weight();
  // Per level of "merchant": the level with the largest true weight defaults more often
  // than the one with the smallest.
  std::map<uint64_t, std::pair<double, double>> rate;  // key -> (defaults, rows)
  SynthStream stream(**model, 200000, 0, 1, 4096);
  Batch b;
  double defaults = 0, rows = 0;
  while (stream.Next(&b)) {
    for (size_t r = 0; r < b.rows(); ++r) {
      uint64_t k = b.keys[b.row_offsets[r] + 5];  // merchant
      rate[k].first += b.labels[r];
      rate[k].second += 1;
      defaults += b.labels[r];
      rows += 1;
    }
  }
  EXPECT_GT(defaults / rows, 0.03);
  EXPECT_LT(defaults / rows, 0.4);
  uint64_t hi = 0, lo = 0;
  for (const auto& [k, r] : rate) {
    if (r.second < 2000) continue;
    if (hi == 0 || weight[k] > weight[hi]) hi = k;
    if (lo == 0 || weight[k] < weight[lo]) lo = k;
  }
  ASSERT_NE(hi, lo);
  EXPECT_GT(rate[hi].first / rate[hi].second, rate[lo].first / rate[lo].second);
}

}  // namespace
}  // namespace sparrow::data
