// The run report: one self-contained report.html with inline SVG plots.
//
// Contents: a table of the final test metrics; learning curves (training loss and the
// validation metrics per epoch) with a per-epoch table; for logistic models the ROC curve
// with the KS point, the reliability diagram and the score histogram by class; for
// Poisson and squared models predicted vs observed by decile of the prediction (the
// calibration view that applies to them); finally the resolved config, HTML-escaped.
//
// The file needs no network, fonts or JavaScript, so it can be archived with the run and
// opened years later.
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/metrics.h"
#include "models/model_spec.h"

namespace sparrow::report {

struct EpochRecord {
  int epoch = 0;  // 1-based
  double train_loss = 0;
  double examples_per_s = 0;
  // Metrics measured after the epoch, by the name the report shows ("test auc" -> 0.903).
  std::map<std::string, double> validation;
};

struct ReportInput {
  std::string title;
  models::Objective objective = models::Objective::kLogistic;
  models::Metrics test;             // final metrics on the test split
  std::vector<EpochRecord> epochs;  // may be empty (then no learning curves)
  std::string config_text;          // the resolved config, shown verbatim
};

// The report as HTML text.
std::string RenderReport(const ReportInput& input);

// Writes RenderReport(input) to `path` atomically: a temporary file beside it, fsynced,
// then renamed over `path`, so a reader never sees half a report. Returns the failing
// step and errno text otherwise.
Status WriteReport(const ReportInput& input, const std::string& path);

}  // namespace sparrow::report
