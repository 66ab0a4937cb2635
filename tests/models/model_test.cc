// Models: gradients by central finite differences in double precision, Forward against a
// naive O(nnz^2) pairwise reference, contributions, losses at extreme margins.
#include "models/model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "models/model_spec.h"

namespace sparrow::models {
namespace {

// A random batch with the features that break naive gradient code: keys shared across rows,
// a key repeated within a row (also with the same field, so FFM pairs a block with itself),
// non-unit values, weights and offsets.
struct Fixture {
  data::Batch batch;
  std::vector<uint64_t> unique;
  std::vector<uint32_t> slot;
};

Fixture MakeBatch(Objective objective, uint32_t num_fields, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::uniform_int_distribution<int> key_dist(0, 6);
  std::uniform_int_distribution<int> nnz_dist(1, 6);
  std::uniform_int_distribution<uint32_t> field_dist(0, num_fields == 0 ? 0 : num_fields - 1);
  Fixture fx;
  data::Batch& b = fx.batch;
  b.has_fields = num_fields > 0;
  const int rows = 9;
  for (int r = 0; r < rows; ++r) {
    const int nnz = r == 0 ? 4 : nnz_dist(rng);
    for (int i = 0; i < nnz; ++i) {
      uint64_t key = 1000 + 17 * key_dist(rng);
      uint32_t field = field_dist(rng);
      if (r == 0 && i >= 2) {  // row 0 repeats its first key, in the same field
        key = b.keys[b.row_offsets[0]];
        if (b.has_fields) field = b.fields[b.row_offsets[0]];
      }
      b.keys.push_back(key);
      b.values.push_back(static_cast<float>(i % 3 == 0 ? 1.0 : 1.5 * unit(rng)));
      if (b.has_fields) b.fields.push_back(field);
    }
    b.row_offsets.push_back(b.keys.size());
    switch (objective) {
      case Objective::kLogistic:
        b.labels.push_back(r % 3 == 0 ? 1.0f : 0.0f);
        break;
      case Objective::kSquared:
        b.labels.push_back(static_cast<float>(2.0 * unit(rng)));
        break;
      case Objective::kPoisson:
        b.labels.push_back(static_cast<float>(r % 4));
        break;
    }
    b.weights.push_back(static_cast<float>(1.25 + unit(rng)));
    b.offsets.push_back(static_cast<float>(0.5 * unit(rng)));
  }
  std::map<uint64_t, uint32_t> index;
  for (uint64_t k : b.keys) index.emplace(k, 0);
  for (auto& [k, u] : index) {
    u = static_cast<uint32_t>(fx.unique.size());
    fx.unique.push_back(k);
  }
  for (uint64_t k : b.keys) fx.slot.push_back(index[k]);
  return fx;
}

struct Weights {
  std::vector<double> w, v;
  double bias = 0;
  BasicParams<double> Params() const { return {w.data(), v.empty() ? nullptr : v.data(), bias}; }
};

Weights RandomWeights(const ModelSpec& spec, size_t num_unique, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 0.4);
  Weights p;
  p.w.resize(num_unique);
  p.v.resize(num_unique * spec.FactorWidth());
  for (double& x : p.w) x = normal(rng);
  for (double& x : p.v) x = normal(rng);
  p.bias = normal(rng);
  return p;
}

double LossAt(const ModelSpec& spec, const Fixture& fx, const Weights& p) {
  std::vector<double> margins(fx.batch.rows()), gw(p.w.size()), gv(p.v.size());
  BasicGrads<double> g{gw.data(), gv.data(), 0};
  return ForwardBackward(spec, fx.batch, fx.slot.data(), p.Params(), fx.unique.size(),
                         margins.data(), &g);
}

// Central differences, h = 1e-5, in double: truncation error ~h^2 and rounding
// ~1e-16 * loss / h, both far below the tolerance of 1e-6 relative (1e-6 absolute floor).
void ExpectNear(double analytic, double numeric, const std::string& what) {
  const double tol = 1e-6 * std::max({1.0, std::abs(analytic), std::abs(numeric)});
  EXPECT_NEAR(analytic, numeric, tol) << what;
}

// Factor size 3 takes the generic loops, 4 the vector-block path of float FFM.
using Case = std::tuple<ModelKind, Objective, uint32_t>;

class GradientTest : public ::testing::TestWithParam<Case> {
 protected:
  ModelSpec Spec() const {
    ModelSpec spec;
    spec.kind = std::get<0>(GetParam());
    spec.objective = std::get<1>(GetParam());
    spec.k = spec.kind == ModelKind::kLR ? 0 : std::get<2>(GetParam());
    spec.num_fields = spec.kind == ModelKind::kFFM ? 3 : 0;
    return spec;
  }
};

TEST_P(GradientTest, MatchesFiniteDifferencesInDouble) {
  const ModelSpec spec = Spec();
  ASSERT_TRUE(spec.Validate().ok());
  const Fixture fx = MakeBatch(spec.objective, spec.num_fields, 7);
  ASSERT_TRUE(fx.batch.Valid());
  ASSERT_TRUE(CheckBatch(spec, fx.batch).ok());
  Weights p = RandomWeights(spec, fx.unique.size(), 11);

  std::vector<double> margins(fx.batch.rows()), gw(p.w.size(), 99.0), gv(p.v.size(), 99.0);
  BasicGrads<double> g{gw.data(), gv.data(), 99.0};  // garbage: must be overwritten
  BasicWorkspace<double> ws;
  const double loss = ForwardBackward(spec, fx.batch, fx.slot.data(), p.Params(), fx.unique.size(),
                                      margins.data(), &g, &ws);

  // The returned loss is the weighted sum of per-row losses of the returned margins.
  double expected_loss = 0;
  for (size_t r = 0; r < fx.batch.rows(); ++r) {
    expected_loss += fx.batch.weights[r] * Loss(spec.objective, margins[r], fx.batch.labels[r]);
  }
  EXPECT_NEAR(loss, expected_loss, 1e-12 * std::abs(expected_loss));

  const double h = 1e-5;
  auto numeric = [&](double* theta) {
    const double saved = *theta;
    *theta = saved + h;
    const double up = LossAt(spec, fx, p);
    *theta = saved - h;
    const double down = LossAt(spec, fx, p);
    *theta = saved;
    return (up - down) / (2 * h);
  };
  ExpectNear(g.bias, numeric(&p.bias), "bias");
  for (size_t u = 0; u < p.w.size(); ++u)
    ExpectNear(gw[u], numeric(&p.w[u]), "w" + std::to_string(u));
  for (size_t j = 0; j < p.v.size(); ++j)
    ExpectNear(gv[j], numeric(&p.v[j]), "v" + std::to_string(j));

  // The float instantiation (what training runs) agrees with the double one to float
  // precision: relative 1e-4 of the largest gradient.
  std::vector<float> fw(p.w.begin(), p.w.end()), fv(p.v.begin(), p.v.end());
  std::vector<float> fmargins(fx.batch.rows()), fgw(fw.size()), fgv(fv.size());
  Params fp{fw.data(), fv.empty() ? nullptr : fv.data(), static_cast<float>(p.bias)};
  Grads fg{fgw.data(), fgv.data(), 0};
  const double floss =
      ForwardBackward(spec, fx.batch, fx.slot.data(), fp, fx.unique.size(), fmargins.data(), &fg);
  double scale = 1;
  for (double x : gw) scale = std::max(scale, std::abs(x));
  for (double x : gv) scale = std::max(scale, std::abs(x));
  EXPECT_NEAR(floss, loss, 1e-4 * std::max(1.0, std::abs(loss)));
  EXPECT_NEAR(fg.bias, g.bias, 1e-4 * scale);
  for (size_t u = 0; u < gw.size(); ++u) EXPECT_NEAR(fgw[u], gw[u], 1e-4 * scale) << "w" << u;
  for (size_t j = 0; j < gv.size(); ++j) EXPECT_NEAR(fgv[j], gv[j], 1e-4 * scale) << "v" << j;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = std::string(ModelKindName(std::get<0>(info.param))) + "_" +
                     ObjectiveName(std::get<1>(info.param));
  if (std::get<0>(info.param) != ModelKind::kLR)
    name += "_k" + std::to_string(std::get<2>(info.param));
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllObjectives, GradientTest,
                         ::testing::Combine(::testing::Values(ModelKind::kLR),
                                            ::testing::Values(Objective::kLogistic,
                                                              Objective::kSquared,
                                                              Objective::kPoisson),
                                            ::testing::Values(0u)),
                         CaseName);
INSTANTIATE_TEST_SUITE_P(FactorModelsAndObjectives, GradientTest,
                         ::testing::Combine(::testing::Values(ModelKind::kFM, ModelKind::kFFM),
                                            ::testing::Values(Objective::kLogistic,
                                                              Objective::kSquared,
                                                              Objective::kPoisson),
                                            ::testing::Values(3u, 4u)),
                         CaseName);

// The pairwise term by definition, sum over position pairs i < j.
double NaivePair(const ModelSpec& spec, const Fixture& fx, const Weights& p, size_t r) {
  const data::Batch& b = fx.batch;
  const size_t width = spec.FactorWidth();
  double pair = 0;
  for (size_t i = b.row_offsets[r]; i < b.row_offsets[r + 1]; ++i) {
    for (size_t j = i + 1; j < b.row_offsets[r + 1]; ++j) {
      const double* vi = &p.v[fx.slot[i] * width];
      const double* vj = &p.v[fx.slot[j] * width];
      if (spec.kind == ModelKind::kFFM) {
        vi += b.fields[j] * spec.k;
        vj += b.fields[i] * spec.k;
      }
      double dot = 0;
      for (uint32_t f = 0; f < spec.k; ++f) dot += vi[f] * vj[f];
      pair += dot * b.values[i] * b.values[j];
    }
  }
  return pair;
}

double NaiveMargin(const ModelSpec& spec, const Fixture& fx, const Weights& p, size_t r) {
  const data::Batch& b = fx.batch;
  double m = p.bias + b.offsets[r];
  for (size_t i = b.row_offsets[r]; i < b.row_offsets[r + 1]; ++i)
    m += p.w[fx.slot[i]] * b.values[i];
  if (spec.kind != ModelKind::kLR) m += NaivePair(spec, fx, p, r);
  return m;
}

class ForwardTest : public ::testing::TestWithParam<ModelKind> {
 protected:
  ModelSpec Spec() const {
    ModelSpec spec;
    spec.kind = GetParam();
    spec.k = spec.kind == ModelKind::kLR ? 0 : 4;
    spec.num_fields = spec.kind == ModelKind::kFFM ? 5 : 0;
    return spec;
  }
};

TEST_P(ForwardTest, EqualsNaivePairwiseReference) {
  const ModelSpec spec = Spec();
  const Fixture fx = MakeBatch(spec.objective, spec.num_fields, 3);
  const Weights p = RandomWeights(spec, fx.unique.size(), 5);
  std::vector<double> margins(fx.batch.rows());
  Forward(spec, fx.batch, fx.slot.data(), p.Params(), margins.data());
  for (size_t r = 0; r < fx.batch.rows(); ++r) {
    EXPECT_NEAR(margins[r], NaiveMargin(spec, fx, p, r), 1e-12) << "row " << r;
  }
  // ForwardBackward reports the same margins.
  std::vector<double> margins2(fx.batch.rows()), gw(p.w.size()), gv(p.v.size());
  BasicGrads<double> g{gw.data(), gv.data(), 0};
  (void)ForwardBackward(spec, fx.batch, fx.slot.data(), p.Params(), fx.unique.size(),
                        margins2.data(), &g);
  EXPECT_EQ(margins, margins2);
}

TEST_P(ForwardTest, ContributionsSumToMarginWithoutBiasAndOffset) {
  const ModelSpec spec = Spec();
  const Fixture fx = MakeBatch(spec.objective, spec.num_fields, 9);
  const Weights p = RandomWeights(spec, fx.unique.size(), 13);
  std::vector<double> margins(fx.batch.rows());
  BasicWorkspace<double> ws;
  Forward(spec, fx.batch, fx.slot.data(), p.Params(), margins.data(), &ws);
  const data::Batch& b = fx.batch;
  for (size_t r = 0; r < b.rows(); ++r) {
    std::vector<double> out(b.row_offsets[r + 1] - b.row_offsets[r], 123.0);
    Contributions(spec, b, fx.slot.data(), p.Params(), r, out.data(), &ws);
    double sum = 0;
    for (double c : out) sum += c;
    EXPECT_NEAR(sum, margins[r] - p.bias - b.offsets[r], 1e-12) << "row " << r;
    // Each contribution holds at least its own linear term's share: for LR exactly it.
    if (spec.kind == ModelKind::kLR) {
      for (size_t i = 0; i < out.size(); ++i) {
        const size_t pos = b.row_offsets[r] + i;
        EXPECT_DOUBLE_EQ(out[i], p.w[fx.slot[pos]] * b.values[pos]);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, ForwardTest,
                         ::testing::Values(ModelKind::kLR, ModelKind::kFM, ModelKind::kFFM),
                         [](const ::testing::TestParamInfo<ModelKind>& info) {
                           return std::string(ModelKindName(info.param));
                         });

TEST(ModelTest, FmByHand) {
  // One row: x = (1 at key a, 2 at key b), k = 2; w = (0.5, -1), v_a = (1, 2), v_b = (3, -1).
  // margin = bias 0.25 + offset 0.1 + 0.5*1 - 1*2 + <v_a, v_b> * 1 * 2 = 0.35 - 1.5 + 2 = 0.85.
  data::Batch b;
  b.keys = {1, 2};
  b.values = {1, 2};
  b.row_offsets = {0, 2};
  b.labels = {1};
  b.weights = {1};
  b.offsets = {0.1f};
  const uint32_t slot[] = {0, 1};
  const float w[] = {0.5f, -1.0f};
  const float v[] = {1, 2, 3, -1};
  ModelSpec spec{ModelKind::kFM, Objective::kLogistic, 2, 0};
  float margin = 0;
  Forward(spec, b, slot, Params{w, v, 0.25f}, &margin);
  EXPECT_NEAR(margin, 0.85f, 1e-6);
  float contrib[2];
  Contributions(spec, b, slot, Params{w, v, 0.25f}, 0, contrib);
  EXPECT_NEAR(contrib[0], 0.5f + 1.0f, 1e-6);  // own linear 0.5 + half of pair 2
  EXPECT_NEAR(contrib[1], -2.0f + 1.0f, 1e-6);
}

TEST(ModelTest, FfmUsesTheOtherFeaturesFieldBlock) {
  // Two features in fields 0 and 1, k = 1, num_fields = 2. Key a's row = (a0, a1), key b's
  // row = (b0, b1). The pair uses a's block for field 1 and b's block for field 0: a1 * b0.
  data::Batch b;
  b.has_fields = true;
  b.keys = {1, 2};
  b.values = {1, 1};
  b.fields = {0, 1};
  b.row_offsets = {0, 2};
  b.labels = {0};
  b.weights = {1};
  b.offsets = {0};
  const uint32_t slot[] = {0, 1};
  const float w[] = {0, 0};
  const float v[] = {2, 3, 5, 7};  // a0 = 2, a1 = 3, b0 = 5, b1 = 7
  ModelSpec spec{ModelKind::kFFM, Objective::kSquared, 1, 2};
  float margin = 0;
  Forward(spec, b, slot, Params{w, v, 0}, &margin);
  EXPECT_FLOAT_EQ(margin, 15.0f);
}

TEST(ModelTest, GradientsAreOverwrittenNotAccumulatedAcrossCalls) {
  ModelSpec spec{ModelKind::kFM, Objective::kLogistic, 3, 0};
  const Fixture fx = MakeBatch(spec.objective, 0, 21);
  const Weights p = RandomWeights(spec, fx.unique.size(), 2);
  std::vector<double> m(fx.batch.rows()), gw1(p.w.size()), gv1(p.v.size());
  BasicGrads<double> g1{gw1.data(), gv1.data(), 0};
  (void)ForwardBackward(spec, fx.batch, fx.slot.data(), p.Params(), fx.unique.size(), m.data(),
                        &g1);
  std::vector<double> gw2 = gw1, gv2 = gv1;
  BasicGrads<double> g2{gw2.data(), gv2.data(), 0};
  (void)ForwardBackward(spec, fx.batch, fx.slot.data(), p.Params(), fx.unique.size(), m.data(),
                        &g2);
  EXPECT_EQ(gw1, gw2);
  EXPECT_EQ(gv1, gv2);
  EXPECT_EQ(g1.bias, g2.bias);
}

TEST(LossTest, ValuesByHand) {
  EXPECT_NEAR(Loss(Objective::kLogistic, 0.0, 1.0), std::log(2.0), 1e-15);
  EXPECT_NEAR(Loss(Objective::kLogistic, 2.0, 0.0), std::log1p(std::exp(2.0)), 1e-15);
  EXPECT_NEAR(Loss(Objective::kSquared, 3.0, 1.0), 2.0, 1e-15);
  EXPECT_NEAR(Loss(Objective::kPoisson, std::log(2.0), 3.0), 2.0 - 3.0 * std::log(2.0), 1e-15);
  EXPECT_NEAR(Prediction(Objective::kLogistic, 0.0), 0.5, 1e-15);
  EXPECT_NEAR(Prediction(Objective::kPoisson, std::log(3.0)), 3.0, 1e-14);
  EXPECT_EQ(Prediction(Objective::kSquared, -1.5f), -1.5f);
}

TEST(LossTest, StableAtExtremeMargins) {
  // Naive log(1 + exp(1000)) overflows; logloss of a confident right answer is ~0 and of a
  // confident wrong one is ~|m|.
  EXPECT_NEAR(Loss(Objective::kLogistic, 1000.0, 1.0), 0.0, 1e-300);
  EXPECT_NEAR(Loss(Objective::kLogistic, 1000.0, 0.0), 1000.0, 1e-9);
  EXPECT_NEAR(Loss(Objective::kLogistic, -1000.0, 1.0), 1000.0, 1e-9);
  EXPECT_NEAR(Loss(Objective::kLogistic, -40.0, 0.0), std::exp(-40.0), 1e-30);
  EXPECT_EQ(LossGradient(Objective::kLogistic, 1000.0, 1.0), 0.0);
  EXPECT_EQ(LossGradient(Objective::kLogistic, -1000.0, 0.0), 0.0);
  for (double m : {100.0, 1e6, 1e30}) {
    EXPECT_TRUE(std::isfinite(Loss(Objective::kPoisson, m, 2.0))) << m;
    EXPECT_TRUE(std::isfinite(LossGradient(Objective::kPoisson, m, 2.0))) << m;
    EXPECT_TRUE(std::isfinite(Prediction(Objective::kPoisson, static_cast<float>(m)))) << m;
  }
}

TEST(LossTest, LossAndGradientTogetherAgreeWithEachAlone) {
  for (Objective obj : {Objective::kLogistic, Objective::kSquared, Objective::kPoisson}) {
    for (double m : {-1000.0, -40.0, -8.0, -1.0, 0.0, 0.3, 2.5, 8.0, 40.0, 1000.0}) {
      for (double y : {0.0, 1.0}) {
        double loss, gradient;
        LossAndGradient(obj, m, y, &loss, &gradient);
        const double want_loss = Loss(obj, m, y), want_gradient = LossGradient(obj, m, y);
        EXPECT_NEAR(loss, want_loss, 1e-12 * std::max(1.0, std::fabs(want_loss))) << m << " " << y;
        EXPECT_NEAR(gradient, want_gradient, 1e-12 * std::max(1.0, std::fabs(want_gradient)))
            << m << " " << y;
      }
    }
  }
}

TEST(LossTest, GradientIsDerivativeOfLoss) {
  for (Objective obj : {Objective::kLogistic, Objective::kSquared, Objective::kPoisson}) {
    for (double m : {-8.0, -1.0, 0.0, 0.3, 2.5, 8.0, kMaxExpMargin + 2}) {
      for (double y : {0.0, 1.0, 3.0}) {
        if (obj == Objective::kLogistic && y > 1) continue;
        const double h = 1e-6;
        const double numeric = (Loss(obj, m + h, y) - Loss(obj, m - h, y)) / (2 * h);
        const double analytic = LossGradient(obj, m, y);
        EXPECT_NEAR(analytic, numeric, 1e-5 * std::max(1.0, std::abs(analytic)))
            << ObjectiveName(obj) << " m=" << m << " y=" << y;
      }
    }
  }
}

TEST(ModelSpecTest, WidthsNamesAndValidation) {
  EXPECT_EQ((ModelSpec{ModelKind::kLR, Objective::kLogistic, 8, 3}).FactorWidth(), 0u);
  EXPECT_EQ((ModelSpec{ModelKind::kFM, Objective::kLogistic, 8, 3}).FactorWidth(), 8u);
  EXPECT_EQ((ModelSpec{ModelKind::kFFM, Objective::kLogistic, 8, 3}).FactorWidth(), 24u);
  EXPECT_FALSE((ModelSpec{ModelKind::kFM, Objective::kLogistic, 0, 0}).Validate().ok());
  EXPECT_FALSE((ModelSpec{ModelKind::kFFM, Objective::kLogistic, 4, 0}).Validate().ok());
  EXPECT_TRUE((ModelSpec{ModelKind::kLR, Objective::kPoisson, 0, 0}).Validate().ok());
  for (ModelKind kind : {ModelKind::kLR, ModelKind::kFM, ModelKind::kFFM}) {
    auto parsed = ParseModelKind(ModelKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  for (Objective obj : {Objective::kLogistic, Objective::kSquared, Objective::kPoisson}) {
    auto parsed = ParseObjective(ObjectiveName(obj));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, obj);
  }
  auto bad = ParseModelKind("svm");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("svm"), std::string::npos);
  EXPECT_FALSE(ParseObjective("Logistic").ok());
}

TEST(ModelTest, CheckBatchRejectsMissingOrOutOfRangeFields) {
  ModelSpec spec{ModelKind::kFFM, Objective::kLogistic, 2, 3};
  Fixture fx = MakeBatch(spec.objective, 3, 1);
  EXPECT_TRUE(CheckBatch(spec, fx.batch).ok());
  fx.batch.fields[fx.batch.row_offsets[2]] = 3;
  Status st = CheckBatch(spec, fx.batch);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("row 2"), std::string::npos) << st.message();
  Fixture plain = MakeBatch(spec.objective, 0, 1);
  EXPECT_FALSE(CheckBatch(spec, plain.batch).ok());
  spec.kind = ModelKind::kFM;
  EXPECT_TRUE(CheckBatch(spec, plain.batch).ok());
}

}  // namespace
}  // namespace sparrow::models
