#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "core/crc32c.h"
#include "core/hash.h"

namespace sparrow {
namespace {

// Bytewise reference CRC32C (reflected polynomial 0x82F63B78).
uint32_t SlowCrc32c(const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~0u;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
  }
  return ~c;
}

TEST(Crc32cTest, CheckValue) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32cTest, MatchesBytewiseAtEveryLengthAndSplit) {
  std::mt19937 rng(7);
  std::string data(3 * 4096 * 2 + 123, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t n : {0ul, 1ul, 7ul, 8ul, 9ul, 4095ul, 12288ul, 12289ul, 24576ul, data.size()}) {
    EXPECT_EQ(Crc32c(data.data(), n), SlowCrc32c(data.data(), n)) << n;
  }
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t cut : {1ul, 100ul, 12288ul, 20000ul}) {
    uint32_t c = Crc32cExtend(Crc32c(data.data(), cut), data.data() + cut, data.size() - cut);
    EXPECT_EQ(c, whole) << cut;
  }
}

TEST(FeatureHashTest, DefinitionIsXxh3OfValueSeededByColumn) {
  const uint64_t seed = 42;
  uint64_t col = XXH3_64bits_withSeed("city", 4, seed);
  EXPECT_EQ(ColumnSeed(seed, "city"), col);
  EXPECT_EQ(FeatureKey(seed, "city", "Paris"), XXH3_64bits_withSeed("Paris", 5, col));
  EXPECT_EQ(FeatureKey(col, "Paris"), FeatureKey(seed, "city", "Paris"));
}

TEST(FeatureHashTest, PinnedValues) {
  // Frozen: a change here changes every key of every model and cache (kFeatureHashVersion).
  EXPECT_EQ(FeatureKey(0, "", "1"), 9356747301674209069ull) << std::hex << FeatureKey(0, "", "1");
  EXPECT_EQ(FeatureKey(0, "city", "Paris"), 17038544822167630400ull)
      << std::hex << FeatureKey(0, "city", "Paris");
  EXPECT_NE(FeatureKey(0, "a", "bc"), FeatureKey(0, "ab", "c"));
  EXPECT_NE(FeatureKey(1, "city", "Paris"), FeatureKey(0, "city", "Paris"));
}

}  // namespace
}  // namespace sparrow
