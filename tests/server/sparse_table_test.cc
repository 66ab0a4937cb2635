#include "server/sparse_table.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace sparrow::server {
namespace {

TEST(SparseTableTest, InsertsFindsAndGrows) {
  SparseTable t(/*row_floats=*/3);
  std::mt19937_64 rng(1);
  std::unordered_map<uint64_t, float> truth;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t k = (i % 3 == 0) ? static_cast<uint64_t>(i) : rng();  // raw ids and hashes
    bool inserted;
    float* row = t.FindOrInsert(k, &inserted);
    EXPECT_EQ(inserted, truth.count(k) == 0);
    if (inserted) row[0] = row[1] = row[2] = 0;
    row[0] += 1.0f;
    truth[k] += 1.0f;
  }
  EXPECT_EQ(t.size(), truth.size());
  for (const auto& [k, v] : truth) {
    const float* row = t.Find(k);
    ASSERT_NE(row, nullptr) << k;
    EXPECT_EQ(row[0], v);
  }
  size_t seen = 0;
  t.ForEach([&](uint64_t k, const float* row) {
    ++seen;
    EXPECT_EQ(row[0], truth.at(k));
  });
  EXPECT_EQ(seen, truth.size());
  EXPECT_EQ(t.Find(0xdeadbeefcafef00dull), nullptr);
}

TEST(SparseTableTest, AllOnesKeyIsAnOrdinaryKey) {
  SparseTable t(1);
  const uint64_t kMax = ~0ull;
  EXPECT_EQ(t.Find(kMax), nullptr);
  bool inserted;
  t.FindOrInsert(kMax, &inserted)[0] = 7.0f;
  EXPECT_TRUE(inserted);
  EXPECT_EQ(t.Find(kMax)[0], 7.0f);
  t.FindOrInsert(kMax, &inserted);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(t.size(), 1u);
}

TEST(SparseTableTest, FtrlWidthOneStaysUnder24BytesPerKey) {
  // FTRL width 1 keeps z and n: 2 floats a row.
  SparseTable t(2);
  std::mt19937_64 rng(3);
  const size_t n = 1000000;
  for (size_t i = 0; i < n; ++i) {
    bool inserted;
    t.FindOrInsert(rng(), &inserted);
  }
  const double bpk = static_cast<double>(t.bytes()) / t.size();
  EXPECT_LE(bpk, 24.0);
  EXPECT_GE(bpk, 16.0);
}

TEST(SparseTableTest, ReserveAvoidsGrowth) {
  SparseTable t(1, 1000);
  const size_t cap = t.capacity();
  bool inserted;
  for (uint64_t k = 0; k < 1000; ++k) t.FindOrInsert(k * 7919, &inserted);
  EXPECT_EQ(t.capacity(), cap);
}

}  // namespace
}  // namespace sparrow::server

namespace sparrow::server {
namespace {

TEST(SparseTableTest, NonUniformKeysSwitchToMixedPlacementAndStayCorrect) {
  // Raw ids 0..N-1 all sit at the bottom of the 64-bit range: order-preserving placement
  // would pile them into one cluster.
  SparseTable t(1);
  bool inserted;
  for (uint64_t k = 0; k < 100000; ++k) t.FindOrInsert(k, &inserted)[0] = static_cast<float>(k);
  for (uint64_t k = 0; k < 100000; ++k) ASSERT_EQ(t.Find(k)[0], static_cast<float>(k));
  EXPECT_EQ(t.size(), 100000u);
}

TEST(SparseTableTest, KeysOfASubRangeUseTheWholeArena) {
  const uint64_t begin = 1ull << 63, end = ~0ull - 1;
  SparseTable t(2, 0, begin, end);
  std::mt19937_64 rng(9);
  std::vector<uint64_t> keys;
  bool inserted;
  for (int i = 0; i < 50000; ++i) {
    keys.push_back(begin + (rng() >> 1));
    t.FindOrInsert(keys.back(), &inserted)[0] = 1.0f;
  }
  for (uint64_t k : keys) ASSERT_NE(t.Find(k), nullptr);
  EXPECT_LE(static_cast<double>(t.bytes()) / t.size(), 24.0);
}

}  // namespace
}  // namespace sparrow::server
