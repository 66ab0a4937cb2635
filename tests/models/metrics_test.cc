// Metrics: values computed by hand on small examples, and by a second, independent
// method on random data (AUC by the O(n^2) pair count, KS by brute force over thresholds,
// Poisson deviance from log-likelihoods in double).
#include "models/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace sparrow::models {
namespace {

Scored Row(double margin, double label, double weight = 1, double offset = 0) {
  return {static_cast<float>(margin), static_cast<float>(label), static_cast<float>(weight),
          static_cast<float>(offset)};
}

double Sigmoid(double m) {
  return 1 / (1 + std::exp(-m));
}

TEST(MetricsTest, LogisticByHand) {
  // scikit-learn's roc_auc_score example: labels 0 0 1 1, scores 0.1 0.4 0.35 0.8 -> 0.75.
  std::vector<Scored> rows = {Row(0.1, 0), Row(0.4, 0), Row(0.35, 1), Row(0.8, 1)};
  Metrics m = ComputeMetrics(Objective::kLogistic, rows);
  EXPECT_DOUBLE_EQ(m.auc, 0.75);
  // Descending: + (tpr .5, fpr 0), - (.5, .5), + (1, .5), - (1, 1): KS = 0.5 at the first.
  EXPECT_DOUBLE_EQ(m.ks, 0.5);
  EXPECT_DOUBLE_EQ(m.ks_tpr, 0.5);
  EXPECT_DOUBLE_EQ(m.ks_fpr, 0.0);
  EXPECT_NEAR(m.ks_threshold, Sigmoid(0.8), 1e-7);
  // Every margin >= 0, so everything is predicted positive: half are right.
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(m.positive_rate, 0.5);
  EXPECT_EQ(m.count, 4u);
  EXPECT_DOUBLE_EQ(m.weight_sum, 4);
  // -ln sigmoid(m) for a positive, -ln(1 - sigmoid(m)) for a negative, at the float margins.
  auto nll = [](float m, bool positive) { return std::log1p(std::exp(positive ? -double{m} : m)); };
  const double logloss =
      (nll(0.1f, false) + nll(0.4f, false) + nll(0.35f, true) + nll(0.8f, true)) / 4;
  EXPECT_NEAR(m.logloss, logloss, 1e-12);
  ASSERT_EQ(m.roc.size(), 5u);
  EXPECT_EQ(m.roc.front().fpr, 0);
  EXPECT_EQ(m.roc.front().tpr, 0);
  EXPECT_EQ(m.roc.back().fpr, 1);
  EXPECT_EQ(m.roc.back().tpr, 1);
}

TEST(MetricsTest, WeightedAucWithTiesByHand) {
  // Positives: margin 1 weight 2. Negatives: margin 1 w 1 (tie), margin 0 w 3, margin 2 w 1.
  // Weighted pairs: tie 2*1*0.5 = 1, win 2*3 = 6, loss 0; total 2*5 = 10 -> AUC 0.7.
  std::vector<Scored> rows = {Row(1, 1, 2), Row(1, 0, 1), Row(0, 0, 3), Row(2, 0, 1)};
  Metrics m = ComputeMetrics(Objective::kLogistic, rows);
  EXPECT_DOUBLE_EQ(m.auc, 0.7);
  // Thresholds: >=2: tpr 0, fpr .2; >=1: tpr 1, fpr .4; >=0: 1, 1. KS = 0.6.
  EXPECT_DOUBLE_EQ(m.ks, 0.6);
  // Predicted positive (margin >= 0): all; right on the positive weight 2 of 7.
  EXPECT_DOUBLE_EQ(m.accuracy, 2.0 / 7);
  EXPECT_DOUBLE_EQ(m.positive_rate, 2.0 / 7);
}

TEST(MetricsTest, CalibrationAndEceByHand) {
  // Probabilities 0.15 (x2, labels 0 and 1) in bin 1 and 0.85 (x2, labels 1 and 1) in bin 8.
  const double lo = std::log(0.15 / 0.85), hi = -lo;
  std::vector<Scored> rows = {Row(lo, 0), Row(lo, 1), Row(hi, 1), Row(hi, 1)};
  Metrics m = ComputeMetrics(Objective::kLogistic, rows);
  ASSERT_EQ(m.calibration.size(), 10u);
  EXPECT_EQ(m.calibration[1].count, 2u);
  EXPECT_NEAR(m.calibration[1].mean_predicted, 0.15, 1e-6);
  EXPECT_DOUBLE_EQ(m.calibration[1].observed_rate, 0.5);
  EXPECT_EQ(m.calibration[8].count, 2u);
  EXPECT_DOUBLE_EQ(m.calibration[8].observed_rate, 1.0);
  EXPECT_EQ(m.calibration[0].count, 0u);
  EXPECT_TRUE(std::isnan(m.calibration[0].mean_predicted));
  // ECE = 0.5 * |0.15 - 0.5| + 0.5 * |0.85 - 1| = 0.175 + 0.075 = 0.25.
  EXPECT_NEAR(m.ece, 0.25, 1e-6);
  // RMSE of the probability: sqrt((.15^2 + .85^2 + .15^2 + .15^2) / 4).
  EXPECT_NEAR(m.rmse, std::sqrt((3 * 0.0225 + 0.7225) / 4), 1e-6);
  // Histograms by class: 0.15 lands in bin 7 of 50, 0.85 in bin 42.
  EXPECT_DOUBLE_EQ(m.histogram_negative[7], 1);
  EXPECT_DOUBLE_EQ(m.histogram_positive[7], 1);
  EXPECT_DOUBLE_EQ(m.histogram_positive[42], 2);
}

// Random logistic data with ties (margins on a coarse grid) and uneven weights.
std::vector<Scored> RandomLogistic(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> grid(-12, 12);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<Scored> rows;
  for (size_t i = 0; i < n; ++i) {
    const double m = grid(rng) * 0.25;
    rows.push_back(Row(m, u(rng) < Sigmoid(m) ? 1 : 0, 0.1 + 2 * u(rng)));
  }
  return rows;
}

TEST(MetricsTest, LogisticAgreesWithBruteForce) {
  const std::vector<Scored> rows = RandomLogistic(400, 17);
  const Metrics m = ComputeMetrics(Objective::kLogistic, rows);

  // AUC by pair count: P(score+ > score-) + 1/2 P(tie), pairs weighted by w+ * w-.
  double num = 0, den = 0;
  for (const Scored& p : rows) {
    if (p.label != 1) continue;
    for (const Scored& q : rows) {
      if (q.label != 0) continue;
      const double w = double{p.weight} * q.weight;
      den += w;
      num += p.margin > q.margin ? w : p.margin == q.margin ? 0.5 * w : 0;
    }
  }
  EXPECT_NEAR(m.auc, num / den, 1e-12);

  // KS by brute force over every threshold t: predict positive iff margin >= t.
  std::set<float> thresholds;
  double pos = 0, neg = 0, sw = 0, loss = 0, correct = 0, sq = 0;
  for (const Scored& r : rows) {
    thresholds.insert(r.margin);
    (r.label == 1 ? pos : neg) += r.weight;
    sw += r.weight;
    const double p = Sigmoid(r.margin);
    loss -= r.weight * (r.label == 1 ? std::log(p) : std::log(1 - p));
    correct += r.weight * ((p >= 0.5) == (r.label == 1));
    sq += r.weight * (p - r.label) * (p - r.label);
  }
  double ks = 0;
  for (float t : thresholds) {
    double tp = 0, fp = 0;
    for (const Scored& r : rows) {
      if (r.margin >= t) (r.label == 1 ? tp : fp) += r.weight;
    }
    ks = std::max(ks, std::abs(tp / pos - fp / neg));
  }
  EXPECT_NEAR(m.ks, ks, 1e-12);
  EXPECT_NEAR(m.logloss, loss / sw, 1e-12);
  EXPECT_NEAR(m.accuracy, correct / sw, 1e-12);
  EXPECT_NEAR(m.rmse, std::sqrt(sq / sw), 1e-12);
  EXPECT_NEAR(m.positive_rate, pos / sw, 1e-12);

  // ECE from its definition, bin by bin.
  double ece = 0;
  for (int b = 0; b < 10; ++b) {
    double w = 0, wp = 0, wy = 0;
    for (const Scored& r : rows) {
      const double p = Sigmoid(r.margin);
      if (std::min(9, static_cast<int>(p * 10)) != b) continue;
      w += r.weight;
      wp += r.weight * p;
      wy += r.weight * r.label;
    }
    if (w > 0) ece += std::abs(wp - wy);  // = w * |wp/w - wy/w|
  }
  EXPECT_NEAR(m.ece, ece / sw, 1e-12);
}

TEST(MetricsTest, RocIsDownsampledMonotoneAndKeepsEnds) {
  std::mt19937 rng(5);
  std::normal_distribution<double> normal(0, 1);
  std::vector<Scored> rows;
  for (int i = 0; i < 5000; ++i) {
    const int y = i % 3 == 0;
    rows.push_back(Row(normal(rng) + y, y));
  }
  const Metrics m = ComputeMetrics(Objective::kLogistic, rows);
  ASSERT_LE(m.roc.size(), 512u);
  ASSERT_GE(m.roc.size(), 500u);
  EXPECT_EQ(m.roc.front().fpr, 0);
  EXPECT_EQ(m.roc.front().tpr, 0);
  EXPECT_DOUBLE_EQ(m.roc.back().fpr, 1);
  EXPECT_DOUBLE_EQ(m.roc.back().tpr, 1);
  for (size_t i = 1; i < m.roc.size(); ++i) {
    EXPECT_GE(m.roc[i].fpr, m.roc[i - 1].fpr);
    EXPECT_GE(m.roc[i].tpr, m.roc[i - 1].tpr);
    EXPECT_LE(m.roc[i].threshold, m.roc[i - 1].threshold);
  }
  // The two classes are one standard deviation apart: AUC = Phi(1/sqrt(2)) ~ 0.760.
  EXPECT_NEAR(m.auc, 0.760, 0.02);
}

TEST(MetricsTest, PoissonDevianceByHand) {
  // Row 1: 1 claim over exposure 0.5 (frequency y = 2), predicted frequency 1 (margin
  //        ln(1 * 0.5) with offset ln 0.5), weight 1 -> sample weight 0.5.
  // Row 2: 0 claims, exposure 1, predicted frequency 0.5, weight 1.
  std::vector<Scored> rows = {Row(std::log(0.5), 1, 1, std::log(0.5)), Row(std::log(0.5), 0, 1, 0)};
  MetricsOptions options;
  Metrics m = ComputeMetrics(Objective::kPoisson, rows, options);
  const double d1 = 2 * (2 * std::log(2.0) - 2 + 1);  // 0.7726
  const double d2 = 2 * (0 - 0 + 0.5);                // 1
  EXPECT_NEAR(m.poisson_deviance, (0.5 * d1 + 1 * d2) / 1.5, 1e-6);
  // Null: the exposure-weighted mean frequency = 1 claim / 1.5 exposure.
  const double c = 1 / 1.5;
  EXPECT_NEAR(m.null_frequency, c, 1e-7);
  const double n1 = 2 * (2 * std::log(2 / c) - 2 + c), n2 = 2 * c;
  EXPECT_NEAR(m.poisson_deviance_null, (0.5 * n1 + n2) / 1.5, 1e-6);
  // RMSE of the frequency, exposure-weighted: errors 1 and 0.5.
  EXPECT_NEAR(m.rmse, std::sqrt((0.5 * 1 + 1 * 0.25) / 1.5), 1e-6);
  EXPECT_NEAR(m.mean_label, c, 1e-7);
  EXPECT_TRUE(std::isnan(m.auc));

  options.null_frequency = 0.1;
  m = ComputeMetrics(Objective::kPoisson, rows, options);
  EXPECT_NEAR(m.poisson_deviance_null, (0.5 * 2 * (2 * std::log(20.0) - 2 + 0.1) + 2 * 0.1) / 1.5,
              1e-6);
}

TEST(MetricsTest, PoissonDevianceAgreesWithLogLikelihoods) {
  // Second method: on counts n with expected count e mu, the deviance is twice the
  // log-likelihood of the saturated model (mean n) minus that of the model (ln n! cancels):
  // 2 [(n ln n - n) - (n ln(e mu) - e mu)], which equals e * d(n / e, mu) for the frequency
  // deviance d, so the exposure-weighted mean is sum w * that / sum w e.
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> u(0.05, 1.0);
  std::poisson_distribution<int> claims(0.3);
  std::vector<Scored> rows;
  double num = 0, den = 0;
  for (int i = 0; i < 500; ++i) {
    const double exposure = u(rng), weight = 0.5 + u(rng);
    const double margin = std::log(exposure) + std::log(0.1 + u(rng));
    const int n = claims(rng);
    rows.push_back(Row(margin, n, weight, std::log(exposure)));
    const Scored& r = rows.back();
    const double expected = std::exp(double{r.margin});  // e * mu, from the float margin
    const double e = std::exp(double{r.offset});
    const double sat = n > 0 ? n * std::log(double(n)) - n : 0;
    const double model = n * std::log(expected) - expected;
    num += r.weight * 2 * (sat - model);  // = weight * e * d(n/e, expected/e)
    den += r.weight * e;
  }
  const Metrics m = ComputeMetrics(Objective::kPoisson, rows);
  EXPECT_NEAR(m.poisson_deviance, num / den, 1e-9 * num / den);
  EXPECT_GT(m.poisson_deviance_null, 0);
}

TEST(MetricsTest, SquaredAndQuantiles) {
  std::vector<Scored> rows;
  double sq = 0;
  for (int i = 0; i < 1000; ++i) {
    const double m = i * 0.01, y = m + (i % 2 ? 0.5 : -0.5);
    rows.push_back(Row(m, y));
    sq += (double{rows.back().margin} - rows.back().label) *
          (double{rows.back().margin} - rows.back().label);
  }
  const Metrics m = ComputeMetrics(Objective::kSquared, rows);
  EXPECT_NEAR(m.rmse, std::sqrt(sq / 1000), 1e-9);
  ASSERT_EQ(m.quantiles.size(), 10u);
  for (const QuantileBin& b : m.quantiles) EXPECT_EQ(b.count, 100u);
  EXPECT_NEAR(m.quantiles[0].mean_predicted, 0.495, 1e-4);
  EXPECT_NEAR(m.quantiles[9].mean_observed, 9.495, 1e-4);
  EXPECT_TRUE(std::isnan(m.auc));
  EXPECT_TRUE(m.roc.empty());
}

std::set<std::string> Keys(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

TEST(MetricsTest, JsonKeysFollowTheObjective) {
  const std::set<std::string> common = {"count", "weight_sum", "mean_prediction", "mean_label",
                                        "rmse"};
  auto with = [&](std::set<std::string> extra) {
    extra.insert(common.begin(), common.end());
    return extra;
  };
  const std::vector<Scored> rows = RandomLogistic(50, 1);
  EXPECT_EQ(Keys(ComputeMetrics(Objective::kLogistic, rows).ToJson()),
            with({"auc", "logloss", "ks", "accuracy", "ece", "positive_rate"}));
  EXPECT_EQ(Keys(ComputeMetrics(Objective::kPoisson, rows).ToJson()),
            with({"poisson_deviance", "poisson_deviance_null", "null_frequency"}));
  EXPECT_EQ(Keys(ComputeMetrics(Objective::kSquared, rows).ToJson()), common);
  const nlohmann::json j = ComputeMetrics(Objective::kLogistic, rows).ToJson();
  EXPECT_TRUE(j["auc"].is_number());
  EXPECT_EQ(j["count"], 50);
  const nlohmann::json curves = ComputeMetrics(Objective::kLogistic, rows).CurvesToJson();
  EXPECT_TRUE(curves["roc"].is_array());
  EXPECT_EQ(curves["calibration"].size(), 10u);
}

TEST(MetricsTest, UndefinedMetricsAreNullNotGarbage) {
  // One class: AUC and KS are undefined.
  std::vector<Scored> rows = {Row(0.3, 1), Row(-0.2, 1)};
  Metrics m = ComputeMetrics(Objective::kLogistic, rows);
  EXPECT_TRUE(std::isnan(m.auc));
  EXPECT_TRUE(std::isnan(m.ks));
  EXPECT_TRUE(m.ToJson()["auc"].is_null());
  EXPECT_DOUBLE_EQ(m.accuracy, 0.5);
  // No rows at all.
  m = ComputeMetrics(Objective::kLogistic, {});
  EXPECT_EQ(m.count, 0u);
  EXPECT_TRUE(m.ToJson()["logloss"].is_null());
  EXPECT_TRUE(ComputeMetrics(Objective::kPoisson, {}).ToJson()["poisson_deviance"].is_null());
}

}  // namespace
}  // namespace sparrow::models
