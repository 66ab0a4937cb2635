// Evaluation metrics over scored rows, exact, as risk and pricing teams read them.
//
// Input is one Scored per row: the model's margin (offset included), the label, the row
// weight and the offset. Which metrics apply depends on the objective:
//   logistic: AUC, logloss, KS, accuracy, RMSE of the probability, calibration/ECE,
//             positive rate, ROC points and score histograms by class;
//   poisson:  mean Poisson deviance of the claim frequency, also of a constant-frequency
//             null model, RMSE of the frequency;
//   squared:  RMSE.
// Every objective gets count, weight sum, mean prediction and prediction deciles.
// Metrics that do not apply, or are undefined (AUC with one class), are NaN.
//
// Labels for logistic are in [0, 1]; a row counts as positive with weight w*y and as
// negative with weight w*(1-y), which for 0/1 labels is the usual weighting and lets soft
// labels through without a threshold. Weights must be >= 0.
//
// Cost: O(n log n) time (two sorts) and O(n) extra memory. Evaluation is a cold path.
//
// Thread safety: pure functions and value types.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <vector>

#include "models/model_spec.h"

namespace sparrow::models {

struct Scored {
  float margin;  // includes the offset, as Forward returns it
  float label;
  float weight;
  float offset;  // ln(exposure) for Poisson, else 0
};

struct MetricsOptions {
  int calibration_bins = 10;    // equal-width bins on the predicted probability
  int histogram_bins = 50;      // equal-width bins on the probability, per class
  int quantile_bins = 10;       // deciles of the prediction, by equal weight
  size_t max_roc_points = 512;  // the ROC curve is downsampled to at most this many points
  // The constant claim frequency of the Poisson null model, e.g. the training set's mean.
  // Unset: the (exposure x weight)-weighted mean frequency of the rows being scored.
  std::optional<double> null_frequency;
};

// One point of the ROC curve: predicting positive when prediction >= threshold gives
// these rates. The first point is (0, 0) with threshold +inf.
struct RocPoint {
  double fpr;
  double tpr;
  double threshold;
};

// Rows whose predicted probability falls in [lo, hi) (the last bin includes 1).
struct CalibrationBin {
  double lo;
  double hi;
  uint64_t count;
  double weight;
  double mean_predicted;  // weighted; NaN when empty
  double observed_rate;   // weighted mean label; NaN when empty
};

// One quantile group of rows sorted by prediction, each holding ~1/q of the weight (for
// Poisson the weight is exposure x weight and values are frequencies).
struct QuantileBin {
  uint64_t count;
  double weight;
  double mean_predicted;
  double mean_observed;
};

struct Metrics {
  Objective objective = Objective::kLogistic;
  uint64_t count = 0;
  double weight_sum = 0;
  // Weighted means of the prediction and of the label. For Poisson both are claim
  // frequencies weighted by exposure x weight; for logistic mean_label is positive_rate.
  double mean_prediction = 0;
  double mean_label = 0;

  double auc = kNaN;
  double logloss = kNaN;
  double ks = kNaN;  // max |TPR - FPR|, at the ROC point ks_fpr/ks_tpr, threshold ks_threshold
  double ks_threshold = kNaN;
  double ks_fpr = kNaN;
  double ks_tpr = kNaN;
  double accuracy = kNaN;  // threshold 0.5 on the probability
  double rmse = kNaN;
  double poisson_deviance = kNaN;
  double poisson_deviance_null = kNaN;
  double null_frequency = kNaN;  // the constant the null deviance used
  double ece = kNaN;             // sum over bins of weight share x |mean_predicted - observed|
  double positive_rate = kNaN;

  std::vector<RocPoint> roc;                // logistic
  std::vector<CalibrationBin> calibration;  // logistic
  std::vector<double> histogram_positive;   // logistic: weight per probability bin
  std::vector<double> histogram_negative;
  std::vector<QuantileBin> quantiles;  // all objectives

  // The scalar metrics that apply to the objective, under the names metrics.json uses:
  // logistic: auc, logloss, ks, accuracy, rmse, ece, positive_rate;
  // poisson:  poisson_deviance, poisson_deviance_null, null_frequency, rmse;
  // squared:  rmse;
  // and always count, weight_sum, mean_prediction, mean_label. NaN becomes null.
  nlohmann::json ToJson() const;

  // The curves: roc, calibration, histograms, quantiles (for plots and deeper reports).
  nlohmann::json CurvesToJson() const;

  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
};

// Computes the metrics of `rows` for `objective`. An empty input gives count 0 and NaNs.
Metrics ComputeMetrics(Objective objective, std::span<const Scored> rows,
                       const MetricsOptions& options = {});

// sklearn's mean_poisson_deviance(y, y_pred, sample_weight) term for one row:
// 2 (y ln(y / mu) - y + mu), with 0 ln 0 = 0. Requires mu > 0, y >= 0.
double PoissonDeviance(double y, double mu);

}  // namespace sparrow::models
