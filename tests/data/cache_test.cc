// The binary cache: round trips, staleness, corruption, shuffled epochs, shards.
#include "data/cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/crc32c.h"
#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::ReadAll;
using testing::Resolve;
using testing::SpecOf;
using testing::TempDir;

Status Convert(const DataSpec& data, const FeatureSpec& fs, const std::string& src,
               const std::string& out, size_t block_bytes = 64 << 10) {
  SPARROW_ASSIGN_OR_RETURN(auto writer, CacheWriter::Create(out, fs, {src}, block_bytes));
  ReadOptions options;
  options.threads = 2;
  SPARROW_RETURN_IF_ERROR(ReadText(
      data, fs, {src}, options, [&](const Batch& b) { return writer->Append(b); }, nullptr));
  return writer->Finish();
}

Status ReadCacheAll(const std::string& path, const FeatureSpec* expect, CacheReadOptions options,
                    Batch* out) {
  out->Clear();
  out->has_fields = expect != nullptr && expect->format() != LIBSVM;
  return ReadCache(
      path, expect, options,
      [out](const Batch& b) {
        out->has_fields = b.has_fields;
        out->AppendRows(b, 0, b.rows());
        return Status::Ok();
      },
      nullptr);
}

TEST(CacheTest, RoundTripsA9aAndTalkingData) {
  SPARROW_REQUIRE_SHARED(a9a, "a9a/a9a");
  SPARROW_REQUIRE_SHARED(td, "talkingdata/train_sample.csv");
  TempDir dir;
  const DataSpec specs[] = {
      SpecOf("format: LIBSVM train: '" + a9a + "'"),
      SpecOf("train: '" + td +
             "' columns { label: 'is_attributed' categorical { name: 'app' } "
             "categorical { name: 'os' } cross { columns: ['app', 'os'] } unlisted: IGNORE }")};
  for (const DataSpec& data : specs) {
    FeatureSpec fs = Resolve(data);
    Batch text;
    ASSERT_TRUE(ReadAll(data, fs, {data.train(0)}, {}, &text).ok());
    std::string out = dir.File("c.spc");
    ASSERT_TRUE(Convert(data, fs, data.train(0), out).ok());
    EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
    for (int threads : {1, 2}) {
      Batch cached;
      CacheReadOptions options;
      options.threads = threads;
      Status st = ReadCacheAll(out, &fs, options, &cached);
      ASSERT_TRUE(st.ok()) << st.ToString();
      EXPECT_TRUE(cached == text);
    }
    Result<CacheHeader> header = ReadCacheHeader(out);
    ASSERT_TRUE(header.ok());
    EXPECT_EQ(Fingerprint(header->spec()), Fingerprint(fs));
    EXPECT_EQ(header->sources(0).path(), data.train(0));
  }
}

TEST(CacheTest, StaleSpecOrSourceIsRejected) {
  TempDir dir;
  std::string src = dir.Write("s.svm", "1 1:1\n0 2:1\n");
  DataSpec data = SpecOf("train: '" + src + "'");
  FeatureSpec fs = Resolve(data);
  std::string out = dir.File("s.spc");
  ASSERT_TRUE(Convert(data, fs, src, out).ok());
  Batch b;
  FeatureSpec other = fs;
  other.set_hash_seed(7);
  Status st = ReadCacheAll(out, &other, {}, &b);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.message().find(out + ": stale cache: written under another feature spec"), 0u)
      << st.message();
  EXPECT_NE(st.message().find("sparrow convert"), std::string::npos);
  // The source changes after conversion.
  { std::ofstream(src, std::ios::app) << "1 3:1\n"; }
  st = ReadCacheAll(out, &fs, {}, &b);
  EXPECT_EQ(st.message(), out + ": stale cache: its source " + src +
                              " changed since it was written; rebuild it with `sparrow convert`");
  CacheReadOptions lax;
  lax.check_sources = false;
  EXPECT_TRUE(ReadCacheAll(out, &fs, lax, &b).ok());
}

TEST(CacheTest, CorruptionAndTruncationAreDetected) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "1 " + std::to_string(i) + ":0.5 7:1\n";
  std::string src = dir.Write("c.svm", text);
  DataSpec data = SpecOf("train: '" + src + "'");
  FeatureSpec fs = Resolve(data);
  std::string out = dir.File("c.spc");
  ASSERT_TRUE(Convert(data, fs, src, out, 16 << 10).ok());
  std::string bytes;
  {
    std::ifstream in(out, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  CacheReadOptions options;
  options.check_sources = false;
  Batch b;
  // One flipped bit in the middle of the data.
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  std::string bad = dir.Write("flip.spc", flipped);
  Status st = ReadCacheAll(bad, &fs, options, &b);
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find(bad + ": corrupt cache block "), std::string::npos) << st.message();
  // Cut short: the trailer is gone.
  std::string cut = dir.Write("cut.spc", bytes.substr(0, bytes.size() - 100));
  st = ReadCacheAll(cut, &fs, options, &b);
  EXPECT_EQ(st.message(),
            cut + ": truncated cache (no trailer; was `sparrow convert` interrupted?)");
  // Not a cache at all.
  std::string junk = dir.Write("junk.spc", std::string(200, 'x'));
  EXPECT_EQ(ReadCacheAll(junk, &fs, options, &b).message(),
            junk + ": not a Sparrow cache (bad magic)");
  // Header bytes corrupted.
  std::string head = bytes;
  head[30] ^= 1;
  std::string hb = dir.Write("head.spc", head);
  EXPECT_EQ(ReadCacheAll(hb, &fs, options, &b).message(),
            hb + ": corrupt cache header (CRC mismatch)");
}

TEST(CacheTest, ShuffledEpochsAndShardsCoverEveryRowOnce) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + " 1:1\n";
  std::string src = dir.Write("e.svm", text);
  DataSpec data = SpecOf("train: '" + src + "'");
  FeatureSpec fs = Resolve(data);
  std::string out = dir.File("e.spc");
  ASSERT_TRUE(Convert(data, fs, src, out, 8 << 10).ok());
  std::vector<std::vector<float>> orders;
  for (uint64_t epoch : {0, 1}) {
    std::vector<float> all;
    for (uint32_t shard = 0; shard < 3; ++shard) {
      CacheReadOptions options;
      options.shuffle = true;
      options.epoch = epoch;
      options.shard = shard;
      options.num_shards = 3;
      options.threads = 2;
      Batch b;
      ASSERT_TRUE(ReadCacheAll(out, &fs, options, &b).ok());
      all.insert(all.end(), b.labels.begin(), b.labels.end());
    }
    std::vector<float> sorted = all;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted.size(), 20000u);
    for (int i = 0; i < 20000; ++i) ASSERT_EQ(sorted[i], static_cast<float>(i));
    orders.push_back(all);
  }
  EXPECT_NE(orders[0], orders[1]);  // a fresh order each epoch
}

TEST(CacheTest, DecodesAnEmptyBlockAndRejectsGarbage) {
  // Found by fuzz_cache: a block of 0 rows and 0 keys (memcpy into empty vectors).
  std::string block(32 + 8, '\0');
  const uint32_t magic = 0x314b4c42, flags = 1;  // "BLK1", values all ones
  std::memcpy(block.data(), &magic, 4);
  std::memcpy(block.data() + 16, &flags, 4);
  uint32_t payload = Crc32c(block.data() + 32, 8);
  std::memcpy(block.data() + 20, &payload, 4);
  uint32_t head = Crc32c(block.data(), 24);
  std::memcpy(block.data() + 24, &head, 4);
  Batch b;
  ASSERT_TRUE(DecodeCacheBlock(block.data(), block.size(), false, &b).ok());
  EXPECT_EQ(b.rows(), 0u);
  EXPECT_TRUE(b.Valid());
  EXPECT_FALSE(DecodeCacheBlock(block.data(), block.size(), true, &b).ok());  // fields flag
  EXPECT_FALSE(DecodeCacheBlock(block.data(), 31, false, &b).ok());
  block[33] = 1;  // payload changed under its CRC
  EXPECT_EQ(DecodeCacheBlock(block.data(), block.size(), false, &b).message(),
            "block payload CRC mismatch");
}

}  // namespace
}  // namespace sparrow::data
