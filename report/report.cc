#include "report/report.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "report/svg_plot.h"

namespace sparrow::report {
namespace {

using models::Metrics;
using models::Objective;

constexpr const char* kBlue = "#1f77b4";
constexpr const char* kRed = "#d62728";
constexpr const char* kGreen = "#2ca02c";
constexpr const char* kGray = "#888888";
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};

constexpr const char* kStyle = R"(<style>
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1150px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border: 1px solid #ccc; padding: 3px 10px; text-align: right; font-size: 13px; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots svg { border: 1px solid #eee; }
pre { background: #f7f7f7; padding: 10px; font-size: 12px; overflow-x: auto; }
.note { color: #666; font-size: 13px; }
</style>
)";

// Headline metrics first, in the order risk and pricing teams read them; any other key
// ToJson() adds later follows.
std::string MetricsTable(const Metrics& m) {
  static const char* const kOrder[] = {"auc",
                                       "ks",
                                       "logloss",
                                       "accuracy",
                                       "ece",
                                       "positive_rate",
                                       "poisson_deviance",
                                       "poisson_deviance_null",
                                       "null_frequency",
                                       "rmse",
                                       "mean_prediction",
                                       "mean_label",
                                       "count",
                                       "weight_sum"};
  nlohmann::json j = m.ToJson();
  std::string s = "<table><tr><th>metric</th><th>value</th></tr>\n";
  auto row = [&](const std::string& key, const nlohmann::json& value) {
    const std::string text =
        value.is_number() ? FormatNumber(value.get<double>(), 6) : std::string("n/a");
    s += "<tr><td>" + HtmlEscape(key) + "</td><td>" + text + "</td></tr>\n";
  };
  for (const char* key : kOrder) {
    if (!j.contains(key)) continue;
    row(key, j[key]);
    j.erase(key);
  }
  for (auto it = j.begin(); it != j.end(); ++it) row(it.key(), *it);
  return s + "</table>\n";
}

// "2.13 M", "45.2 k", "812".
std::string FormatRate(double per_s) {
  char buf[32];
  if (per_s >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2f M", per_s / 1e6);
  } else if (per_s >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1f k", per_s / 1e3);
  } else {
    return FormatNumber(per_s, 3);
  }
  return buf;
}

std::string EpochTable(const std::vector<EpochRecord>& epochs) {
  std::set<std::string> names;
  for (const EpochRecord& e : epochs) {
    for (const auto& [name, value] : e.validation) names.insert(name);
  }
  std::string s = "<table><tr><th>epoch</th><th>train loss</th><th>examples/s</th>";
  for (const std::string& n : names) s += "<th>" + HtmlEscape(n) + "</th>";
  s += "</tr>\n";
  for (const EpochRecord& e : epochs) {
    s += "<tr><td>" + std::to_string(e.epoch) + "</td><td>" + FormatNumber(e.train_loss, 6) +
         "</td><td>" + FormatRate(e.examples_per_s) + "</td>";
    for (const std::string& n : names) {
      auto it = e.validation.find(n);
      s += "<td>" + (it == e.validation.end() ? std::string("") : FormatNumber(it->second, 6)) +
           "</td>";
    }
    s += "</tr>\n";
  }
  return s + "</table>\n";
}

std::string LearningCurves(const std::vector<EpochRecord>& epochs) {
  SvgPlot loss("Training loss", "epoch", "mean loss");
  std::vector<Point> points;
  for (const EpochRecord& e : epochs) points.push_back({double(e.epoch), e.train_loss});
  loss.AddSeries("train loss", kBlue, std::move(points), Style::kLineMarkers);

  SvgPlot validation("Metrics after each epoch", "epoch", "value");
  std::map<std::string, std::vector<Point>> series;
  for (const EpochRecord& e : epochs) {
    for (const auto& [name, value] : e.validation) series[name].push_back({double(e.epoch), value});
  }
  size_t color = 0;
  for (auto& [name, pts] : series) {
    validation.AddSeries(name, kPalette[color++ % std::size(kPalette)], std::move(pts),
                         Style::kLineMarkers);
  }
  return "<div class=\"plots\">" + loss.Render() + validation.Render() + "</div>\n" +
         EpochTable(epochs);
}

std::string RocPlot(const Metrics& m) {
  SvgPlot plot("ROC curve (AUC " + FormatNumber(m.auc) + ", KS " + FormatNumber(m.ks) + ")",
               "false positive rate", "true positive rate");
  plot.SetXRange(0, 1);
  plot.SetYRange(0, 1);
  plot.AddSeries("chance", kGray, {{0, 0}, {1, 1}}, Style::kDashed);
  std::vector<Point> roc;
  for (const models::RocPoint& p : m.roc) roc.push_back({p.fpr, p.tpr});
  plot.AddSeries("model", kBlue, std::move(roc));
  // KS is the largest vertical gap between the curve and the diagonal.
  plot.AddSeries("KS gap", kRed, {{m.ks_fpr, m.ks_fpr}, {m.ks_fpr, m.ks_tpr}});
  plot.AddLabel({m.ks_fpr, m.ks_tpr},
                "KS " + FormatNumber(m.ks, 3) + " at p=" + FormatNumber(m.ks_threshold, 3), kRed);
  return plot.Render();
}

std::string ReliabilityPlot(const Metrics& m) {
  SvgPlot plot("Calibration (ECE " + FormatNumber(m.ece, 3) + ")", "mean predicted probability",
               "observed positive rate");
  plot.SetXRange(0, 1);
  plot.SetYRange(0, 1);
  plot.AddSeries("perfect", kGray, {{0, 0}, {1, 1}}, Style::kDashed);
  std::vector<Point> bins;
  for (const models::CalibrationBin& b : m.calibration) {
    if (b.count > 0) bins.push_back({b.mean_predicted, b.observed_rate});
  }
  plot.AddSeries("model (" + std::to_string(m.calibration.size()) + " bins)", kBlue,
                 std::move(bins), Style::kLineMarkers);
  return plot.Render();
}

// Each class normalised to its own total, so a rare positive class stays visible.
std::string HistogramPlot(const Metrics& m) {
  SvgPlot plot("Score distribution by class", "predicted probability", "share of class weight");
  auto steps = [](const std::vector<double>& h) {
    double total = 0;
    for (double x : h) total += x;
    std::vector<Point> pts;
    const double n = h.size();
    for (size_t b = 0; b < h.size(); ++b) {
      const double y = total > 0 ? h[b] / total : 0;
      pts.push_back({b / n, y});
      pts.push_back({(b + 1) / n, y});
    }
    return pts;
  };
  plot.SetXRange(0, 1);
  plot.AddSeries("negatives", kBlue, steps(m.histogram_negative), Style::kArea);
  plot.AddSeries("positives", kRed, steps(m.histogram_positive), Style::kArea);
  return plot.Render();
}

// Predicted vs observed by decile of the prediction: as a line per decile and as a
// reliability-style scatter against the diagonal.
std::string DecilePlots(const Metrics& m) {
  const bool poisson = m.objective == Objective::kPoisson;
  const std::string what = poisson ? "claim frequency" : "value";
  SvgPlot by_decile("Predicted vs observed " + what + " by decile", "decile of the prediction",
                    poisson ? "frequency (exposure-weighted)" : "mean");
  std::vector<Point> predicted, observed, scatter;
  for (size_t b = 0; b < m.quantiles.size(); ++b) {
    const models::QuantileBin& q = m.quantiles[b];
    if (q.count == 0) continue;
    predicted.push_back({double(b + 1), q.mean_predicted});
    observed.push_back({double(b + 1), q.mean_observed});
    scatter.push_back({q.mean_predicted, q.mean_observed});
  }
  by_decile.AddSeries("predicted", kBlue, std::move(predicted), Style::kLineMarkers);
  by_decile.AddSeries("observed", kGreen, std::move(observed), Style::kLineMarkers);

  SvgPlot calibration("Calibration by decile", "mean predicted " + what, "mean observed " + what);
  double lo = 0, hi = 0;
  for (const Point& p : scatter) hi = std::max({hi, p.x, p.y}), lo = std::min({lo, p.x, p.y});
  calibration.AddSeries("perfect", kGray, {{lo, lo}, {hi, hi}}, Style::kDashed);
  calibration.AddSeries("deciles", kBlue, std::move(scatter), Style::kLineMarkers);
  return by_decile.Render() + calibration.Render();
}

std::string EvaluationPlots(const Metrics& m) {
  if (m.objective == Objective::kLogistic) {
    return RocPlot(m) + ReliabilityPlot(m) + HistogramPlot(m);
  }
  return DecilePlots(m);
}

}  // namespace

std::string RenderReport(const ReportInput& in) {
  const Metrics& m = in.test;
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                     HtmlEscape(in.title) + "</title>\n" + kStyle + "</head><body>\n";
  html += "<h1>" + HtmlEscape(in.title) + "</h1>\n";
  html += "<p class=\"note\">objective " + std::string(models::ObjectiveName(in.objective)) +
          "; test rows " + std::to_string(m.count) + ", weight " + FormatNumber(m.weight_sum, 8) +
          "</p>\n";
  html += "<h2>Final test metrics</h2>\n" + MetricsTable(m);
  if (in.objective == Objective::kPoisson) {
    html +=
        "<p class=\"note\">Poisson deviance: mean deviance of the claim frequency "
        "(label / exposure) weighted by exposure &times; weight; the null model predicts "
        "the constant frequency " +
        FormatNumber(m.null_frequency) + ".</p>\n";
  }
  html += "<h2>Learning curves</h2>\n";
  html += in.epochs.empty() ? std::string("<p class=\"note\">No per-epoch records.</p>\n")
                            : LearningCurves(in.epochs);
  html += "<h2>Test set</h2>\n<div class=\"plots\">" + EvaluationPlots(m) + "</div>\n";
  html += "<h2>Configuration</h2>\n<pre>" + HtmlEscape(in.config_text) + "</pre>\n";
  return html + "</body></html>\n";
}

Status WriteReport(const ReportInput& input, const std::string& path) {
  return WriteFileAtomically(path, RenderReport(input));
}

}  // namespace sparrow::report
