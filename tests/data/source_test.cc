// ReadEpoch over text, cache and synthetic sources.
#include "data/source.h"

#include <gtest/gtest.h>

#include "data/cache.h"
#include "data/synth.h"
#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::SpecOf;
using testing::TempDir;

std::vector<float> Epoch(const DataSpec& data, const FeatureSpec& fs, SourceOptions options,
                         std::vector<size_t>* sizes = nullptr) {
  std::vector<float> labels;
  Status st = ReadEpoch(
      data, fs, options,
      [&](const Batch& b) {
        labels.insert(labels.end(), b.labels.begin(), b.labels.end());
        if (sizes) sizes->push_back(b.rows());
        return Status::Ok();
      },
      nullptr);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return labels;
}

TEST(SourceTest, TextAndCacheEpochsShuffleDifferentlyAndKeepEveryRow) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) text += std::to_string(i) + " 1:1\n";
  std::string src = dir.Write("t.svm", text);
  DataSpec data = SpecOf("train: '" + src + "' shuffle_window: 1000");
  Result<FeatureSpec> fs = SourceFeatureSpec(data);
  ASSERT_TRUE(fs.ok());
  SourceOptions options;
  options.batch_rows = 128;
  std::vector<size_t> sizes;
  std::vector<float> e0 = Epoch(data, *fs, options, &sizes);
  options.epoch = 1;
  std::vector<float> e1 = Epoch(data, *fs, options);
  EXPECT_NE(e0, e1);
  for (size_t i = 0; i + 1 < sizes.size(); ++i) ASSERT_EQ(sizes[i], 128u);
  std::sort(e0.begin(), e0.end());
  ASSERT_EQ(e0.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(e0[i], i);

  // The same data as a cache.
  std::string cache = dir.File("t.spc");
  auto w = CacheWriter::Create(cache, *fs, {src}, 4096);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(ReadText(
                  data, *fs, {src}, {}, [&](const Batch& b) { return (*w)->Append(b); }, nullptr)
                  .ok());
  ASSERT_TRUE((*w)->Finish().ok());
  DataSpec cached = SpecOf("train: '" + cache + "' shuffle_window: 1000");
  Result<FeatureSpec> cfs = SourceFeatureSpec(cached);
  ASSERT_TRUE(cfs.ok());
  EXPECT_EQ(Fingerprint(*cfs), Fingerprint(*fs));
  std::vector<float> c0 = Epoch(cached, *cfs, options);
  std::sort(c0.begin(), c0.end());
  EXPECT_EQ(c0, e0);
}

TEST(SourceTest, SynthSplitsAndShardsWithoutDisk) {
  DataSpec data = SpecOf("synth { kind: 'ctr' rows: 10000 seed: 4 test_modulus: 5 }");
  Result<FeatureSpec> fs = SourceFeatureSpec(data);
  ASSERT_TRUE(fs.ok());
  EXPECT_EQ(fs->num_fields(), 8u);
  size_t train = 0, test = 0;
  for (uint32_t shard = 0; shard < 2; ++shard) {
    SourceOptions options;
    options.shard = shard;
    options.num_shards = 2;
    options.part = SplitPart::kTrain;
    train += Epoch(data, *fs, options).size();
    options.part = SplitPart::kTest;
    test += Epoch(data, *fs, options).size();
  }
  EXPECT_EQ(test, 2000u);
  EXPECT_EQ(train, 8000u);
}

}  // namespace
}  // namespace sparrow::data
