// Each optimizer against updates computed by hand (double precision, then compared).
#include <gtest/gtest.h>

#include <cmath>

#include "server/table.h"

namespace sparrow::server {
namespace {

std::unique_ptr<Table> Make(wire::OptimizerKind kind, uint32_t width,
                            void (*tweak)(wire::TableSpec*) = nullptr) {
  wire::TableSpec spec;
  spec.set_width(width);
  spec.set_optimizer(kind);
  if (tweak) tweak(&spec);
  auto t = Table::Create(spec, 0);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

float PullOne(const Table& t, uint64_t key, int col = 0) {
  std::vector<float> out(t.width());
  t.Pull(&key, 1, out.data());
  return out[col];
}

TEST(OptimizerTest, SgdIsExactForIntegers) {
  auto t = Make(wire::SGD, 2, [](wire::TableSpec* s) { s->set_learning_rate(1.0f); });
  const uint64_t k = 42;
  float g1[] = {3, -2}, g2[] = {5, 7};
  t->Push(&k, g1, 1);
  t->Push(&k, g2, 1);
  EXPECT_EQ(PullOne(*t, k, 0), -8.0f);
  EXPECT_EQ(PullOne(*t, k, 1), -5.0f);
}

TEST(OptimizerTest, AdaGradMatchesHand) {
  auto t = Make(wire::ADAGRAD, 1, [](wire::TableSpec* s) {
    s->set_learning_rate(0.1f);
    s->set_epsilon(1e-6f);
  });
  const uint64_t k = 1;
  double w = 0, g2 = 0;
  for (float g : {0.5f, -1.0f, 2.0f}) {
    t->Push(&k, &g, 1);
    g2 += g * g;
    w -= 0.1 * g / (std::sqrt(g2) + 1e-6);
  }
  EXPECT_NEAR(PullOne(*t, k), w, 1e-6);
}

TEST(OptimizerTest, FtrlMatchesHand) {
  const double alpha = 0.1, beta = 1.0, l1 = 0.2, l2 = 0.5;
  auto t = Make(wire::FTRL, 1, [](wire::TableSpec* s) {
    s->set_alpha(0.1f);
    s->set_beta(1.0f);
    s->set_l1(0.2f);
    s->set_l2(0.5f);
  });
  const uint64_t k = 9;
  double z = 0, n = 0;
  auto weight = [&] {
    if (std::fabs(z) <= l1) return 0.0;
    return -(z - (z < 0 ? -1 : 1) * l1) / ((beta + std::sqrt(n)) / alpha + l2);
  };
  for (float g : {0.3f, 0.4f, -0.1f, 0.9f}) {
    const double w = weight();
    EXPECT_NEAR(PullOne(*t, k), w, 1e-6);
    t->Push(&k, &g, 1);
    const double sigma = (std::sqrt(n + g * g) - std::sqrt(n)) / alpha;
    z += g - sigma * w;
    n += g * g;
  }
  EXPECT_NEAR(PullOne(*t, k), weight(), 1e-6);
  EXPECT_NE(weight(), 0.0);  // the sequence crosses the L1 threshold
}

TEST(OptimizerTest, FtrlL1KeepsSmallWeightsAtZero) {
  auto t = Make(wire::FTRL, 1, [](wire::TableSpec* s) { s->set_l1(10.0f); });
  const uint64_t k = 5;
  float g = 0.5f;
  t->Push(&k, &g, 1);
  EXPECT_EQ(PullOne(*t, k), 0.0f);
}

TEST(OptimizerTest, AdamMatchesHand) {
  auto t = Make(wire::ADAM, 1, [](wire::TableSpec* s) { s->set_learning_rate(0.01f); });
  const uint64_t k = 77;
  double w = 0, m = 0, v = 0;
  int step = 0;
  for (float g : {1.0f, -0.5f, 0.25f}) {
    t->Push(&k, &g, 1);
    ++step;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const double mh = m / (1 - std::pow(0.9, step)), vh = v / (1 - std::pow(0.999, step));
    w -= 0.01 * mh / (std::sqrt(vh) + 1e-8);
  }
  EXPECT_NEAR(PullOne(*t, k), w, 1e-6);
}

TEST(OptimizerTest, InitialisationDependsOnlyOnKeyAndSeed) {
  auto tweak = [](wire::TableSpec* s) {
    s->set_init_scale(0.01f);
    s->set_init_seed(11);
  };
  for (auto kind : {wire::SGD, wire::ADAGRAD, wire::FTRL, wire::ADAM}) {
    auto a = Make(kind, 4, tweak), b = Make(kind, 4, tweak);
    // Different insertion orders, same initial weights.
    uint64_t keys[] = {3, 1000, 99999};
    std::vector<float> zero(4, 0.0f);
    b->Push(&keys[2], zero.data(), 1);
    for (uint64_t k : keys) {
      for (int c = 0; c < 4; ++c) {
        const float w = PullOne(*a, k, c);
        EXPECT_EQ(w, PullOne(*b, k, c)) << wire::OptimizerKind_Name(kind);
        EXPECT_LE(std::fabs(w), 0.01f);
      }
    }
    EXPECT_NE(PullOne(*a, 3, 0), PullOne(*a, 3, 1));
  }
}

TEST(OptimizerTest, PullDoesNotGrowTheTable) {
  auto t = Make(wire::FTRL, 1);
  std::vector<uint64_t> keys = {1, 2, 3};
  std::vector<float> out(3);
  t->Pull(keys.data(), 3, out.data());
  EXPECT_EQ(t->Stats().keys(), 0u);
}

TEST(OptimizerTest, RejectsBadSpecs) {
  wire::TableSpec s;
  s.set_width(0);
  s.set_optimizer(wire::SGD);
  EXPECT_FALSE(Table::Create(s, 0).ok());
  s.set_width(1);
  s.set_optimizer(wire::OPTIMIZER_UNSPECIFIED);
  EXPECT_FALSE(Table::Create(s, 0).ok());
  s.set_optimizer(wire::ADAM);
  s.set_beta1(1.5f);
  EXPECT_FALSE(Table::Create(s, 0).ok());
  s.set_beta1(0.9f);
  s.set_learning_rate(-1.0f);
  EXPECT_FALSE(Table::Create(s, 0).ok());
}

}  // namespace
}  // namespace sparrow::server

namespace sparrow::server {
namespace {

TEST(OptimizerTest, MinCountAdmitsAKeyOnItsNthPush) {
  auto t = Make(wire::SGD, 2, [](wire::TableSpec* s) {
    s->set_learning_rate(1.0f);
    s->set_min_count(3);
    s->set_init_scale(0.5f);
    s->set_init_seed(4);
  });
  const uint64_t k = 77;
  float g[] = {1, 2};
  t->Push(&k, g, 1);
  t->Push(&k, g, 1);
  EXPECT_EQ(PullOne(*t, k, 0), 0.0f);  // counted, dropped, no row
  EXPECT_EQ(PullOne(*t, k, 1), 0.0f);
  EXPECT_EQ(t->Stats().keys(), 0u);
  t->Push(&k, g, 1);  // the third push creates the row and applies its gradient
  EXPECT_EQ(t->Stats().keys(), 1u);
  EXPECT_FLOAT_EQ(PullOne(*t, k, 0), InitialWeight(k, 4, 0, 0.5f) - 1.0f);
  EXPECT_FLOAT_EQ(PullOne(*t, k, 1), InitialWeight(k, 4, 1, 0.5f) - 2.0f);
}

}  // namespace
}  // namespace sparrow::server

namespace sparrow::server {
namespace {

// The table applies each rule through a loop that is cloned for AVX2 (server/table.cc);
// whichever clone runs, every weight must have the bits of the rule applied here, one row
// at a time, by code built for the baseline instruction set.
template <typename Rule>
void ExpectTableMatchesRule(wire::OptimizerKind kind) {
  constexpr uint32_t kWidth = 37;  // vector blocks and a scalar tail
  wire::TableSpec spec;
  spec.set_width(kWidth);
  spec.set_optimizer(kind);
  spec.set_learning_rate(0.05f);
  spec.set_l1(0.01f);
  spec.set_l2(0.001f);
  spec.set_init_scale(0.1f);
  spec.set_init_seed(3);
  auto t = Table::Create(spec, 0);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const Rule rule{RuleParams::FromSpec(spec)};
  const std::vector<uint64_t> keys = {5, 17, 1000, 123456789};
  std::vector<std::vector<float>> rows(keys.size(), std::vector<float>(Rule::StateFloats(kWidth)));
  for (size_t i = 0; i < keys.size(); ++i) rule.Init(keys[i], rows[i].data());
  uint64_t seed = 99;
  for (int round = 0; round < 5; ++round) {
    std::vector<float> grads(keys.size() * kWidth);
    for (float& g : grads) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      g = static_cast<float>(static_cast<int64_t>(seed >> 40) - (1 << 23)) / (1 << 22);
    }
    (*t)->Push(keys.data(), grads.data(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) rule.Update(rows[i].data(), &grads[i * kWidth]);
  }
  std::vector<float> got(keys.size() * kWidth), want(kWidth);
  (*t)->Pull(keys.data(), keys.size(), got.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    rule.Weights(rows[i].data(), want.data());
    for (uint32_t c = 0; c < kWidth; ++c) {
      ASSERT_EQ(got[i * kWidth + c], want[c])
          << wire::OptimizerKind_Name(kind) << " key " << keys[i] << " column " << c;
    }
  }
}

TEST(OptimizerTest, TableGivesTheBitsOfTheRuleAppliedRowByRow) {
  ExpectTableMatchesRule<SgdRule>(wire::SGD);
  ExpectTableMatchesRule<AdaGradRule>(wire::ADAGRAD);
  ExpectTableMatchesRule<FtrlRule>(wire::FTRL);
  ExpectTableMatchesRule<AdamRule>(wire::ADAM);
}

}  // namespace
}  // namespace sparrow::server
