// Turning workers' scores into the numbers and pages a run leaves behind.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "experiment/experiment.h"
#include "launcher/launcher.h"

namespace sparrow::launcher {

// Exact test metrics over every worker's scores, as metrics.json's "test" object.
Result<nlohmann::json> TestMetrics(models::Objective objective,
                                   const std::vector<models::Scored>& rows);

// report.html: learning curves, ROC with KS, calibration, score histograms.
Status WriteRunReport(const config::ExperimentConfig& cfg, models::Objective objective,
                      const std::vector<EpochRecord>& history, const experiment::RunDir& dir);

}  // namespace sparrow::launcher
