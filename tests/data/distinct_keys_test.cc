#include "data/distinct_keys.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace sparrow::data {
namespace {

TEST(DistinctKeysTest, EmptyIsZero) {
  EXPECT_EQ(DistinctKeys().Estimate(), 0u);
}

TEST(DistinctKeysTest, SmallSetsAreCloseAndRepeatsDoNotCount) {
  for (uint64_t n : {1u, 10u, 100u, 1000u}) {
    DistinctKeys d;
    for (int rep = 0; rep < 5; ++rep) {
      for (uint64_t k = 0; k < n; ++k) d.Add(k);  // consecutive ids: the mixer's job
    }
    // Four standard errors of linear counting at these sizes (1.1 keys at 100, 1.2% at 1000).
    EXPECT_NEAR(static_cast<double>(d.Estimate()), static_cast<double>(n), 0.05 * n + 3) << n;
  }
}

TEST(DistinctKeysTest, LargeSetsWithinFourStandardErrors) {
  std::mt19937_64 rng(7);
  for (uint64_t n : {10000u, 100000u, 1000000u}) {
    DistinctKeys d;
    for (uint64_t i = 0; i < n; ++i) d.Add(rng());
    const double err = std::abs(static_cast<double>(d.Estimate()) - n) / n;
    EXPECT_LT(err, 4 * 0.0163) << n << " keys estimated as " << d.Estimate();
  }
}

TEST(DistinctKeysTest, MergeCountsTheUnion) {
  DistinctKeys a, b, both;
  for (uint64_t k = 0; k < 60000; ++k) {
    (k < 40000 ? a : b).Add(k * 0x9E3779B97F4A7C15ull);
    if (k >= 20000) a.Add(k * 0x9E3779B97F4A7C15ull);  // a: [0, 60000); b: [40000, 60000)
    both.Add(k * 0x9E3779B97F4A7C15ull);
  }
  a.Merge(b);
  EXPECT_EQ(a.Estimate(), both.Estimate());
  EXPECT_NEAR(static_cast<double>(a.Estimate()), 60000.0, 60000 * 4 * 0.0163);
}

}  // namespace
}  // namespace sparrow::data
