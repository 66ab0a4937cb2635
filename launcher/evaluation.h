// Turning workers' scores into the numbers and pages a run leaves behind.
#pragma once

#include <string>
#include <vector>

#include "experiment/experiment.h"
#include "launcher/launcher.h"
#include "models/metrics.h"

namespace sparrow::launcher {

// Exact test metrics over every worker's scores.
Result<models::Metrics> TestMetrics(models::Objective objective,
                                    const std::vector<models::Scored>& rows);

// report.html: final metrics, learning curves, ROC with KS, calibration, histograms.
Status WriteRunReport(const std::string& title, models::Objective objective,
                      const models::Metrics& final_test, const std::vector<EpochRecord>& history,
                      const std::string& config_text, const std::string& path);

}  // namespace sparrow::launcher
