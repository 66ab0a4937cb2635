// Compressed inputs, sharding (every line exactly once), shuffling.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "data/byte_stream.h"
#include "data/shuffle.h"
#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::ReadAll;
using testing::Resolve;
using testing::Slurp;
using testing::SpecOf;
using testing::TempDir;

std::string Gzip(const std::string& text) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Zstd(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  size_t n = ZSTD_compress2(c, out.data(), out.size(), text.data(), text.size());
  ZSTD_freeCCtx(c);
  out.resize(n);
  return out;
}

TEST(CompressedTest, GzipAndZstdReadLikePlainAndTruncationIsAnError) {
  SPARROW_REQUIRE_SHARED(path, "a9a/a9a");
  const std::string text = Slurp(path);
  TempDir dir;
  DataSpec data = SpecOf("format: LIBSVM");
  FeatureSpec fs = Resolve(data);
  Batch plain;
  ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &plain).ok());
  for (const auto& [name, bytes] :
       {std::pair{std::string("a9a.gz"), Gzip(text)}, std::pair{std::string("a9a.zst"), Zstd(text)},
        std::pair{std::string("a9a2.gz"),
                  Gzip(text.substr(0, 1000000)) + Gzip(text.substr(1000000))}}) {
    std::string file = dir.Write(name, bytes);
    Batch b;
    ReadOptions options;
    options.threads = 2;
    Status st = ReadAll(data, fs, {file}, options, &b);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(b == plain) << name;
    std::string cut = dir.Write("cut_" + name, bytes.substr(0, bytes.size() / 2));
    st = ReadAll(data, fs, {cut}, options, &b);
    EXPECT_EQ(st.code(), Code::kDataLoss) << name;
    EXPECT_NE(st.message().find("truncated"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find(cut), 0u) << st.message();
  }
  // Corrupt bytes in the middle of a gzip stream fail its decoder, its CRC, or (when the
  // garbage reaches the parser first) the parser: an error in every case.
  std::string bad = Gzip(text);
  for (size_t i = bad.size() / 2; i < bad.size() / 2 + 16; ++i) bad[i] ^= 0x5a;
  Batch b;
  EXPECT_FALSE(ReadAll(data, fs, {dir.Write("bad.gz", bad)}, {}, &b).ok());
}

// Concatenating shards 0..n-1 in order gives the unsharded read: every line exactly once.
void ExpectShardsCover(const DataSpec& data, const FeatureSpec& fs, const std::string& path,
                       const Batch& whole, uint32_t n, bool ordered) {
  Batch joined;
  joined.has_fields = whole.has_fields;
  for (uint32_t i = 0; i < n; ++i) {
    Batch part;
    ReadOptions options;
    options.shard = i;
    options.num_shards = n;
    options.chunk_bytes = 4096;
    options.threads = 2;
    Status st = ReadAll(data, fs, {path}, options, &part);
    ASSERT_TRUE(st.ok()) << st.ToString();
    joined.AppendRows(part, 0, part.rows());
  }
  ASSERT_EQ(joined.rows(), whole.rows()) << n;
  if (ordered) {
    EXPECT_TRUE(joined == whole) << n;
    return;
  }
  std::multiset<std::vector<uint64_t>> a, b;
  for (size_t r = 0; r < whole.rows(); ++r) {
    a.insert(
        {whole.keys.begin() + whole.row_offsets[r], whole.keys.begin() + whole.row_offsets[r + 1]});
    b.insert({joined.keys.begin() + joined.row_offsets[r],
              joined.keys.begin() + joined.row_offsets[r + 1]});
  }
  EXPECT_TRUE(a == b) << n;
}

TEST(ShardTest, EveryLineExactlyOnce) {
  std::mt19937 rng(11);
  TempDir dir;
  for (int trial = 0; trial < 20; ++trial) {
    std::string text;
    int lines = 1 + rng() % 200;
    for (int i = 0; i < lines; ++i) {
      text += std::to_string(i % 2) + " " + std::to_string(i) + ":1";
      for (unsigned k = rng() % 30; k > 0; --k) text += " " + std::to_string(1000 + k);
      text += (rng() % 5 == 0) ? "\r\n" : "\n";
    }
    if (rng() % 2) text.pop_back();  // no final newline
    std::string path = dir.Write("s.svm", text);
    DataSpec data = SpecOf("format: LIBSVM");
    FeatureSpec fs = Resolve(data);
    Batch whole;
    ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &whole).ok());
    ASSERT_EQ(whole.rows(), static_cast<size_t>(lines));
    for (uint32_t n : {1u, 2u, 3u, 7u, 64u}) ExpectShardsCover(data, fs, path, whole, n, true);
    std::string gz = dir.Write("s.svm.gz", Gzip(text));
    for (uint32_t n : {2u, 3u}) ExpectShardsCover(data, fs, gz, whole, n, false);
  }
}

TEST(ShardTest, CsvShardsSkipTheHeaderOnlyOnce) {
  SPARROW_REQUIRE_SHARED(path, "talkingdata/train_sample.csv");
  DataSpec data = SpecOf(
      "format: CSV columns { label: 'is_attributed' categorical { name: 'app' } "
      "unlisted: IGNORE }");
  FeatureSpec fs = [&] {
    DataSpec d = data;
    d.add_train(path);
    return Resolve(d);
  }();
  Batch whole;
  ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &whole).ok());
  ASSERT_EQ(whole.rows(), 100000u);
  for (uint32_t n : {2u, 5u}) ExpectShardsCover(data, fs, path, whole, n, true);
}

TEST(ShardTest, ErrorsInLaterShardsNameTheAbsoluteLine) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 1000; ++i) text += i == 876 ? "oops 1:1\n" : "1 1:1 2:1\n";
  std::string path = dir.Write("e.svm", text);
  DataSpec data = SpecOf("format: LIBSVM");
  FeatureSpec fs = Resolve(data);
  ReadOptions options;
  options.shard = 1;
  options.num_shards = 2;
  options.chunk_bytes = 512;
  Batch b;
  Status st = ReadAll(data, fs, {path}, options, &b);
  EXPECT_EQ(st.message(), path + ":877: label not parseable: 'oops'");
  // Several bad lines in several chunks: counted once, then named from the chunks' counts.
  std::string many;
  for (int i = 0; i < 1000; ++i) many += (i == 600 || i == 876 || i == 950) ? "x\n" : "1 1:1 2:1\n";
  std::string path2 = dir.Write("e2.svm", many);
  data.set_max_bad_lines(2);
  ReadStats stats;
  st = ReadAll(data, fs, {path2}, options, &b, &stats);
  EXPECT_EQ(stats.first_bad, path2 + ":601: label not parseable: 'x'");
  EXPECT_EQ(st.message(), path2 + ":951: label not parseable: 'x'");
}

TEST(ShardTest, RowIndexSplitIsShardIndependent) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 500; ++i) text += std::to_string(i) + " 1:1\n";
  std::string path = dir.Write("r.svm", text);
  DataSpec data = SpecOf("format: LIBSVM split { modulus: 5 }");
  FeatureSpec fs = Resolve(data);
  std::vector<float> labels;
  for (uint32_t i = 0; i < 3; ++i) {
    ReadOptions options;
    options.part = SplitPart::kTest;
    options.shard = i;
    options.num_shards = 3;
    options.chunk_bytes = 256;
    Batch b;
    ASSERT_TRUE(ReadAll(data, fs, {path}, options, &b).ok());
    labels.insert(labels.end(), b.labels.begin(), b.labels.end());
  }
  ASSERT_EQ(labels.size(), 100u);
  for (size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(labels[i], 5.0f * i);
}

TEST(ShuffleTest, PermutesDeterministicallyInExactBatches) {
  Batch in;
  for (int r = 0; r < 1000; ++r) {
    in.keys.push_back(r);
    in.values.push_back(1);
    in.labels.push_back(static_cast<float>(r));
    in.weights.push_back(1);
    in.offsets.push_back(0);
    in.row_offsets.push_back(in.keys.size());
  }
  auto run = [&](uint64_t seed, size_t window) {
    ShuffleBuffer buf(window, seed, 64);
    std::vector<float> order;
    std::vector<size_t> sizes;
    auto emit = [&](const Batch& b) {
      EXPECT_TRUE(b.Valid());
      for (size_t r = 0; r < b.rows(); ++r) EXPECT_EQ(b.keys[b.row_offsets[r]], b.labels[r]);
      order.insert(order.end(), b.labels.begin(), b.labels.end());
      sizes.push_back(b.rows());
      return Status::Ok();
    };
    for (size_t r = 0; r < 1000; r += 100) {
      Batch part;
      part.AppendRows(in, r, r + 100);
      EXPECT_TRUE(buf.Add(part, emit).ok());
    }
    EXPECT_TRUE(buf.Flush(emit).ok());
    for (size_t i = 0; i + 1 < sizes.size(); ++i) EXPECT_EQ(sizes[i], 64u);
    return order;
  };
  std::vector<float> a = run(1, 256), b = run(1, 256), c = run(2, 256), plain = run(1, 0);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::vector<float> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, plain);
  EXPECT_NE(a, plain);
}

TEST(ShuffleTest, MixesFreMtplsClaimsFirstOrder) {
  SPARROW_REQUIRE_SHARED(path, "freMTPL2freq/freMTPL2freq.csv");
  DataSpec data = SpecOf("train: '" + path +
                         "' binarize_label_above: 0 columns { label: 'ClaimNb' "
                         "categorical { name: 'Area' } unlisted: IGNORE }");
  FeatureSpec fs = Resolve(data);
  ShuffleBuffer buf(100000, 7, 1000);
  std::vector<double> rates;
  auto emit = [&](const Batch& b) {
    rates.push_back(std::count(b.labels.begin(), b.labels.end(), 1.0f) / 1000.0);
    return Status::Ok();
  };
  size_t first_rows = 0;
  double first_rate = 0;
  ReadOptions options;
  options.threads = 2;
  ASSERT_TRUE(ReadText(
                  data, fs, {path}, options,
                  [&](const Batch& b) {
                    if (first_rows < 1000) {
                      first_rate += std::count(b.labels.begin(),
                                               b.labels.begin() +
                                                   std::min<size_t>(b.rows(), 1000 - first_rows),
                                               1.0f) /
                                    1000.0;
                      first_rows += std::min<size_t>(b.rows(), 1000 - first_rows);
                    }
                    return buf.Add(b, emit);
                  },
                  nullptr)
                  .ok());
  ASSERT_TRUE(buf.Flush(emit).ok());
  EXPECT_EQ(first_rate, 1.0);  // in file order the first batch is all claims
  ASSERT_GT(rates.size(), 600u);
  EXPECT_LT(rates[0], 0.15);  // shuffled: near the 5% base rate
  EXPECT_GT(rates[0], 0.01);
}

}  // namespace
}  // namespace sparrow::data
