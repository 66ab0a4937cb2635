#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "models/model.h"

namespace sparrow::models {
namespace {

constexpr double kNaN = Metrics::kNaN;

// Per-row quantities in double, in the units the metrics are defined on.
struct Row {
  double score;       // margin: the ranking score (monotone in the probability)
  double prediction;  // probability, value, or claim frequency (Poisson)
  double label;       // label, or observed frequency label / exposure (Poisson)
  double weight;      // weight, or exposure x weight (Poisson)
};

std::vector<Row> ToRows(Objective objective, std::span<const Scored> in) {
  std::vector<Row> rows;
  rows.reserve(in.size());
  for (const Scored& s : in) {
    if (objective == Objective::kPoisson) {
      // Frequency = expected count / exposure; exp(m - offset) directly so that a large
      // exposure does not lose digits, with the same clamp as Prediction().
      const double exposure = std::exp(static_cast<double>(s.offset));
      const double m = std::min<double>(s.margin, kMaxExpMargin);
      rows.push_back({s.margin, std::exp(m - s.offset), s.label / exposure, s.weight * exposure});
    } else {
      rows.push_back(
          {s.margin, Prediction(objective, static_cast<double>(s.margin)), s.label, s.weight});
    }
  }
  return rows;
}

double SafeDiv(double num, double den) {
  return den > 0 ? num / den : kNaN;
}

// AUC, KS and the ROC curve in one pass over rows by descending score. Tied scores form
// one group and move the curve diagonally, so the trapezoid area counts a tied
// (positive, negative) pair as one half: the average-rank AUC.
void RankMetrics(const std::vector<Row>& rows, const MetricsOptions& options, Metrics* out) {
  std::vector<uint32_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return rows[a].score > rows[b].score; });
  double pos = 0, neg = 0;
  for (const Row& r : rows) {
    pos += r.weight * r.label;
    neg += r.weight * (1 - r.label);
  }
  std::vector<RocPoint> roc{{0, 0, std::numeric_limits<double>::infinity()}};
  double tp = 0, fp = 0, area = 0;
  out->ks = 0;
  for (size_t i = 0; i < order.size();) {
    const double score = rows[order[i]].score;
    double dtp = 0, dfp = 0;
    size_t j = i;
    for (; j < order.size() && rows[order[j]].score == score; ++j) {
      const Row& r = rows[order[j]];
      dtp += r.weight * r.label;
      dfp += r.weight * (1 - r.label);
    }
    area += dfp * (tp + 0.5 * dtp);
    tp += dtp;
    fp += dfp;
    const RocPoint p{SafeDiv(fp, neg), SafeDiv(tp, pos), rows[order[i]].prediction};
    roc.push_back(p);
    if (std::abs(p.tpr - p.fpr) > out->ks) {
      out->ks = std::abs(p.tpr - p.fpr);
      out->ks_fpr = p.fpr;
      out->ks_tpr = p.tpr;
      out->ks_threshold = p.threshold;
    }
    i = j;
  }
  if (pos <= 0 || neg <= 0) {
    out->auc = out->ks = kNaN;
    return;
  }
  out->auc = area / (pos * neg);
  // Keep evenly spaced points, always the first and the last.
  const size_t keep = std::max<size_t>(2, options.max_roc_points);
  if (roc.size() > keep) {
    std::vector<RocPoint> thin;
    thin.reserve(keep);
    for (size_t i = 0; i < keep; ++i) thin.push_back(roc[i * (roc.size() - 1) / (keep - 1)]);
    roc.swap(thin);
  }
  out->roc = std::move(roc);
}

int ProbabilityBin(double p, int bins) {
  return std::clamp(static_cast<int>(p * bins), 0, bins - 1);
}

void Calibration(const std::vector<Row>& rows, const MetricsOptions& options, Metrics* out) {
  const int bins = std::max(1, options.calibration_bins);
  std::vector<double> sum_pred(bins, 0), sum_label(bins, 0);
  out->calibration.assign(bins, CalibrationBin{});
  for (const Row& r : rows) {
    const int b = ProbabilityBin(r.prediction, bins);
    CalibrationBin& bin = out->calibration[b];
    ++bin.count;
    bin.weight += r.weight;
    sum_pred[b] += r.weight * r.prediction;
    sum_label[b] += r.weight * r.label;
  }
  double ece = 0;
  for (int b = 0; b < bins; ++b) {
    CalibrationBin& bin = out->calibration[b];
    bin.lo = static_cast<double>(b) / bins;
    bin.hi = static_cast<double>(b + 1) / bins;
    bin.mean_predicted = SafeDiv(sum_pred[b], bin.weight);
    bin.observed_rate = SafeDiv(sum_label[b], bin.weight);
    if (bin.weight > 0) ece += bin.weight * std::abs(bin.mean_predicted - bin.observed_rate);
  }
  out->ece = SafeDiv(ece, out->weight_sum);

  const int hbins = std::max(1, options.histogram_bins);
  out->histogram_positive.assign(hbins, 0);
  out->histogram_negative.assign(hbins, 0);
  for (const Row& r : rows) {
    const int b = ProbabilityBin(r.prediction, hbins);
    out->histogram_positive[b] += r.weight * r.label;
    out->histogram_negative[b] += r.weight * (1 - r.label);
  }
}

// Groups of equal weight by ascending prediction; a row goes to the group holding the
// midpoint of its weight, so a heavy row is not split.
void Quantiles(const std::vector<Row>& rows, const MetricsOptions& options, Metrics* out) {
  const int q = std::max(1, options.quantile_bins);
  if (rows.empty() || out->weight_sum <= 0) return;
  std::vector<uint32_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return rows[a].prediction < rows[b].prediction; });
  std::vector<double> sum_pred(q, 0), sum_label(q, 0);
  out->quantiles.assign(q, QuantileBin{});
  double cum = 0;
  for (uint32_t i : order) {
    const Row& r = rows[i];
    const int b = std::min(q - 1, static_cast<int>(q * (cum + 0.5 * r.weight) / out->weight_sum));
    cum += r.weight;
    QuantileBin& bin = out->quantiles[b];
    ++bin.count;
    bin.weight += r.weight;
    sum_pred[b] += r.weight * r.prediction;
    sum_label[b] += r.weight * r.label;
  }
  for (int b = 0; b < q; ++b) {
    out->quantiles[b].mean_predicted = SafeDiv(sum_pred[b], out->quantiles[b].weight);
    out->quantiles[b].mean_observed = SafeDiv(sum_label[b], out->quantiles[b].weight);
  }
}

nlohmann::json Number(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
}

}  // namespace

double PoissonDeviance(double y, double mu) {
  const double ylogy = y > 0 ? y * std::log(y / mu) : 0.0;
  return 2 * (ylogy - y + mu);
}

Metrics ComputeMetrics(Objective objective, std::span<const Scored> scored,
                       const MetricsOptions& options) {
  Metrics m;
  m.objective = objective;
  m.count = scored.size();
  const std::vector<Row> rows = ToRows(objective, scored);
  double sum_pred = 0, sum_label = 0, sum_sq = 0;
  for (const Row& r : rows) {
    m.weight_sum += r.weight;
    sum_pred += r.weight * r.prediction;
    sum_label += r.weight * r.label;
    sum_sq += r.weight * (r.prediction - r.label) * (r.prediction - r.label);
  }
  m.mean_prediction = SafeDiv(sum_pred, m.weight_sum);
  m.mean_label = SafeDiv(sum_label, m.weight_sum);
  m.rmse = std::sqrt(SafeDiv(sum_sq, m.weight_sum));
  Quantiles(rows, options, &m);

  switch (objective) {
    case Objective::kLogistic: {
      double loss = 0, correct = 0;
      for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        loss += r.weight * Loss(Objective::kLogistic, r.score, r.label);
        correct += r.weight * (r.score >= 0 ? r.label : 1 - r.label);  // p >= 0.5 iff m >= 0
      }
      m.logloss = SafeDiv(loss, m.weight_sum);
      m.accuracy = SafeDiv(correct, m.weight_sum);
      m.positive_rate = m.mean_label;
      RankMetrics(rows, options, &m);
      Calibration(rows, options, &m);
      break;
    }
    case Objective::kPoisson: {
      m.null_frequency = options.null_frequency.value_or(m.mean_label);
      double dev = 0, dev_null = 0;
      for (const Row& r : rows) {
        dev += r.weight * PoissonDeviance(r.label, r.prediction);
        dev_null += r.weight * PoissonDeviance(r.label, m.null_frequency);
      }
      m.poisson_deviance = SafeDiv(dev, m.weight_sum);
      m.poisson_deviance_null = SafeDiv(dev_null, m.weight_sum);
      break;
    }
    case Objective::kSquared:
      break;
  }
  return m;
}

nlohmann::json Metrics::ToJson() const {
  nlohmann::json j;
  j["count"] = count;
  j["weight_sum"] = Number(weight_sum);
  j["mean_prediction"] = Number(mean_prediction);
  j["mean_label"] = Number(mean_label);
  j["rmse"] = Number(rmse);
  switch (objective) {
    case Objective::kLogistic:
      j["auc"] = Number(auc);
      j["logloss"] = Number(logloss);
      j["ks"] = Number(ks);
      j["accuracy"] = Number(accuracy);
      j["ece"] = Number(ece);
      j["positive_rate"] = Number(positive_rate);
      break;
    case Objective::kPoisson:
      j["poisson_deviance"] = Number(poisson_deviance);
      j["poisson_deviance_null"] = Number(poisson_deviance_null);
      j["null_frequency"] = Number(null_frequency);
      break;
    case Objective::kSquared:
      break;
  }
  return j;
}

nlohmann::json Metrics::CurvesToJson() const {
  nlohmann::json j;
  j["roc"] = nlohmann::json::array();
  for (const RocPoint& p : roc) {
    j["roc"].push_back({{"fpr", p.fpr}, {"tpr", p.tpr}, {"threshold", Number(p.threshold)}});
  }
  if (!roc.empty()) {
    j["ks_point"] = {
        {"fpr", Number(ks_fpr)}, {"tpr", Number(ks_tpr)}, {"threshold", Number(ks_threshold)}};
  }
  j["calibration"] = nlohmann::json::array();
  for (const CalibrationBin& b : calibration) {
    j["calibration"].push_back({{"lo", b.lo},
                                {"hi", b.hi},
                                {"count", b.count},
                                {"weight", b.weight},
                                {"mean_predicted", Number(b.mean_predicted)},
                                {"observed_rate", Number(b.observed_rate)}});
  }
  j["histogram_positive"] = histogram_positive;
  j["histogram_negative"] = histogram_negative;
  j["quantiles"] = nlohmann::json::array();
  for (const QuantileBin& b : quantiles) {
    j["quantiles"].push_back({{"count", b.count},
                              {"weight", b.weight},
                              {"mean_predicted", Number(b.mean_predicted)},
                              {"mean_observed", Number(b.mean_observed)}});
  }
  return j;
}

}  // namespace sparrow::models
