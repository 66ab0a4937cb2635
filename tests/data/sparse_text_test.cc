// LIBSVM and LIBFFM: real files, exact numbers, keys, rejections.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "core/hash.h"
#include "data/batch_keys.h"
#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::ReadAll;
using testing::Resolve;
using testing::SpecOf;
using testing::TempDir;

TEST(LibsvmTest, A9aCountsMatchReadme) {
  SPARROW_REQUIRE_SHARED(train, "a9a/a9a");
  SPARROW_REQUIRE_SHARED(test, "a9a/a9a.t");
  for (const auto& [path, rows, pos] :
       {std::tuple{train, 32561u, 7841u}, std::tuple{test, 16281u, 3846u}}) {
    DataSpec data = SpecOf("format: LIBSVM train: '" + path + "'");
    FeatureSpec fs = Resolve(data);
    for (int threads : {1, 2}) {
      Batch b;
      ReadOptions options;
      options.threads = threads;
      ASSERT_TRUE(ReadAll(data, fs, {path}, options, &b).ok());
      EXPECT_EQ(b.rows(), rows);
      EXPECT_TRUE(b.Valid());
      size_t positives = 0;
      for (float l : b.labels) {
        ASSERT_TRUE(l == 1.0f || l == -1.0f);
        positives += l == 1.0f;
      }
      EXPECT_EQ(positives, pos);
    }
  }
}

TEST(LibsvmTest, A9aFirstRowSpotCheck) {
  SPARROW_REQUIRE_SHARED(path, "a9a/a9a");
  // "-1 3:1 11:1 14:1 19:1 39:1 42:1 55:1 64:1 67:1 73:1 75:1 76:1 80:1 83:1 "
  DataSpec data =
      SpecOf("format: LIBSVM hash_indices: false binarize_label_above: 0 train: '" + path + "'");
  Batch b;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b).ok());
  ASSERT_GE(b.rows(), 1u);
  EXPECT_EQ(b.labels[0], 0.0f);
  std::vector<uint64_t> want = {3, 11, 14, 19, 39, 42, 55, 64, 67, 73, 75, 76, 80, 83};
  std::vector<uint64_t> got(b.keys.begin(), b.keys.begin() + b.row_offsets[1]);
  EXPECT_EQ(got, want);
  uint64_t max_key = 0;
  for (uint64_t k : b.keys) max_key = std::max(max_key, k);
  EXPECT_EQ(max_key, 123u);
}

TEST(LibsvmTest, HashedKeysFollowTheDefinition) {
  TempDir dir;
  std::string path = dir.Write("x.svm", "1 7:2.5 007:1 123\n");
  DataSpec data = SpecOf("hash_seed: 9 train: '" + path + "'");
  Batch b;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b).ok());
  ASSERT_EQ(b.nnz(), 3u);
  EXPECT_EQ(b.keys[0], FeatureKey(9, "", "7"));
  EXPECT_EQ(b.keys[1], FeatureKey(9, "", "7"));  // leading zeros do not make a new feature
  EXPECT_EQ(b.keys[2], FeatureKey(9, "", "123"));
  EXPECT_EQ(b.values[0], 2.5f);
  EXPECT_EQ(b.values[2], 1.0f);
  std::vector<uint64_t> unique;
  std::vector<uint32_t> slot;
  UniqueKeys(b, &unique, &slot);
  EXPECT_EQ(unique.size(), 2u);
  EXPECT_TRUE(std::is_sorted(unique.begin(), unique.end()));
  for (size_t i = 0; i < b.nnz(); ++i) EXPECT_EQ(unique[slot[i]], b.keys[i]);
}

// Large batches take the bucket-sort path: hashed keys, narrow raw ids (spread over
// their own range), and a skewed batch whose keys nearly all fall in one bucket. All must
// match a plain sort + unique.
TEST(UniqueKeysTest, LargeBatchesMatchSortAndUnique) {
  std::mt19937_64 rng(11);
  for (const char* kind : {"hashed", "narrow", "skewed"}) {
    const std::string what = kind;
    Batch b;
    for (int r = 0; r < 500; ++r) {
      for (int j = 0; j < 8; ++j) {
        uint64_t k = what == "narrow" ? 1000 + rng() % 3000 : (rng() % 4 == 0 ? 42 : rng());
        if (what == "skewed") k = rng() % 64 == 0 ? ~0ull - rng() % 8 : rng() % 100000;
        b.keys.push_back(k);
        b.values.push_back(1.0f);
      }
      b.row_offsets.push_back(b.keys.size());
      b.labels.push_back(0);
      b.weights.push_back(1);
      b.offsets.push_back(0);
    }
    std::vector<uint64_t> unique;
    std::vector<uint32_t> slot;
    UniqueKeys(b, &unique, &slot);
    std::vector<uint64_t> want = b.keys;
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    ASSERT_GT(want.size(), 256u);
    EXPECT_EQ(unique, want) << what;
    for (size_t i = 0; i < b.nnz(); ++i) ASSERT_EQ(unique[slot[i]], b.keys[i]);
  }
}

// Dense ids take the bitmap scan when the universe is small against the batch, the sort
// otherwise, and a binary search for slots past 2^22 ids; every path must match a plain
// sort + unique, and leave the scratch clean for the next call (run twice).
TEST(UniqueIdsTest, EveryPathMatchesSortAndUnique) {
  std::mt19937_64 rng(5);
  for (uint32_t universe : {1u, 100u, 40000u, 1u << 22, 50000000u}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{4096}}) {
      for (int round = 0; round < 2; ++round) {
        std::vector<uint32_t> ids(n);
        for (auto& id : ids) id = rng() % 3 == 0 ? universe - 1 : rng() % universe;
        std::vector<uint32_t> unique = {123}, slot;
        UniqueIds(ids.data(), n, universe, &unique, &slot);
        std::vector<uint32_t> want = ids;
        std::sort(want.begin(), want.end());
        want.erase(std::unique(want.begin(), want.end()), want.end());
        ASSERT_EQ(unique, want) << "universe " << universe << " n " << n;
        ASSERT_EQ(slot.size(), n);
        for (size_t i = 0; i < n; ++i) ASSERT_EQ(unique[slot[i]], ids[i]);
      }
    }
  }
}

TEST(LibsvmTest, FloatsParseExactlyAsStrtof) {
  std::mt19937_64 rng(3);
  std::string text;
  std::vector<std::string> tokens;
  for (int i = 0; i < 2000; ++i) {
    char buf[64];
    double mag = std::pow(10.0, static_cast<int>(rng() % 20) - 10);
    double v = (static_cast<double>(rng() % 1000000007) / 1000000007.0 - 0.3) * mag;
    const char* fmts[] = {"%.9g", "%.17g", "%.3f", "%e", "%.12e"};
    std::snprintf(buf, sizeof(buf), fmts[rng() % 5], v);
    tokens.push_back(buf);
    text += "0 1:" + std::string(buf) + "\n";
  }
  text += "+1 2:+3\n-0 3:-0\n1 4:16777217\n";  // 2^24 + 1 rounds like strtof
  tokens.push_back("+3");
  tokens.push_back("-0");
  tokens.push_back("16777217");
  TempDir dir;
  std::string path = dir.Write("f.svm", text);
  DataSpec data = SpecOf("train: '" + path + "'");
  Batch b;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b).ok());
  ASSERT_EQ(b.nnz(), tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    float want = std::strtof(tokens[i].c_str(), nullptr);
    EXPECT_EQ(std::memcmp(&b.values[i], &want, 4), 0) << tokens[i];
  }
  EXPECT_EQ(b.labels[b.rows() - 3], 1.0f);
  EXPECT_TRUE(std::signbit(b.values[b.nnz() - 2]));
}

TEST(LibsvmTest, CrlfBlankCommentsAndNoFinalNewline) {
  TempDir dir;
  std::string path =
      dir.Write("c.svm", "# header comment\r\n1 1:1 # trailing\r\n\r\n  \n0\t2:3\t5");
  DataSpec data = SpecOf("train: '" + path + "'");
  Batch b;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b).ok());
  ASSERT_EQ(b.rows(), 2u);
  EXPECT_EQ(b.row_offsets, (std::vector<uint64_t>{0, 1, 3}));
  EXPECT_EQ(b.values[1], 3.0f);
}

struct BadCase {
  const char* line;
  const char* reason;
};

TEST(LibsvmTest, RejectsWithFileLineAndReason) {
  const BadCase cases[] = {
      {"x 1:1", "label not parseable: 'x'"},
      {"1 a:1", "bad index: 'a:1'"},
      {"1 3:abc", "bad value: '3:abc'"},
      {"1 3:1.5x", "bad value: '3:1.5x'"},  // ParseReal stops at x; then "bad feature"
      {"1 3:nan", "bad value: '3:nan'"},
      {"1 3:1e99", "bad value: '3:1e99'"},
      {"1 99999999999999999999:1", "bad index: '99999999999999999999:1'"},
      {"1 -3:1", "bad index: '-3:1'"},
  };
  for (const BadCase& c : cases) {
    TempDir dir;
    std::string path = dir.Write("bad.svm", std::string("1 1:1\n\n") + c.line + "\n1 2:1\n");
    DataSpec data = SpecOf("train: '" + path + "'");
    Batch b;
    Status st = ReadAll(data, Resolve(data), {path}, {}, &b);
    ASSERT_FALSE(st.ok()) << c.line;
    EXPECT_EQ(st.code(), Code::kInvalidArgument);
    std::string want = path + ":3: " + c.reason;
    if (std::string(c.line) == "1 3:1.5x") want = path + ":3: bad feature: '3:1.5x'";
    EXPECT_EQ(st.message(), want) << c.line;
  }
}

TEST(LibsvmTest, IndexOutOfRange) {
  TempDir dir;
  std::string path = dir.Write("r.svm", "1 5:1\n1 124:1\n");
  DataSpec data = SpecOf("max_index: 123 train: '" + path + "'");
  Batch b;
  Status st = ReadAll(data, Resolve(data), {path}, {}, &b);
  EXPECT_EQ(st.message(), path + ":2: index out of range: '124:1'");
}

TEST(LibsvmTest, MaxBadLinesSkipsAndCountsThenFails) {
  TempDir dir;
  std::string path = dir.Write("m.svm", "1 1:1\nbad\n0 2:1\nworse 1\n1 3:1\n");
  DataSpec data = SpecOf("max_bad_lines: 2 train: '" + path + "'");
  Batch b;
  ReadStats stats;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b, &stats).ok());
  EXPECT_EQ(b.rows(), 3u);
  EXPECT_EQ(stats.bad_lines, 2u);
  EXPECT_EQ(stats.first_bad, path + ":2: label not parseable: 'bad'");
  data.set_max_bad_lines(1);
  ReadStats stats2;
  Status st = ReadAll(data, Resolve(data), {path}, {}, &b, &stats2);
  EXPECT_EQ(st.message(), path + ":4: label not parseable: 'worse'");
}

TEST(LibffmTest, FieldsAndRejections) {
  TempDir dir;
  std::string path = dir.Write("x.ffm", "1 0:5:1 2:7:0.5\n0 1:5:2\n");
  DataSpec data = SpecOf("train: '" + path + "'");
  FeatureSpec fs = Resolve(data);
  EXPECT_EQ(fs.format(), LIBFFM);
  Batch b;
  ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &b).ok());
  ASSERT_EQ(b.rows(), 2u);
  EXPECT_TRUE(b.has_fields);
  EXPECT_EQ(b.fields, (std::vector<uint32_t>{0, 2, 1}));
  EXPECT_EQ(b.keys[0], FeatureKey(0, "", "5"));  // the field is not part of the key
  EXPECT_EQ(b.keys[2], b.keys[0]);
  EXPECT_EQ(b.values[1], 0.5f);

  const BadCase cases[] = {
      {"1 0:5", "bad value in field:index:value: '0:5'"},
      {"1 a:5:1", "expected field:index:value: 'a:5:1'"},
      {"1 3:5:1", "field out of range: '3:5:1'"},
      {"1 0:x:1", "expected field:index:value: '0:x:1'"},
  };
  for (const BadCase& c : cases) {
    std::string bad = dir.Write("bad.ffm", std::string(c.line) + "\n");
    DataSpec d = SpecOf("max_field: 3 train: '" + bad + "'");
    Status st = ReadAll(d, Resolve(d), {bad}, {}, &b);
    EXPECT_EQ(st.message(), bad + ":1: " + c.reason) << c.line;
  }
}

}  // namespace
}  // namespace sparrow::data
