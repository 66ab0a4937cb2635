#include "launcher/evaluation.h"

namespace sparrow::launcher {

Result<nlohmann::json> TestMetrics(models::Objective objective,
                                   const std::vector<models::Scored>& rows) {
  if (rows.empty()) return FailedPrecondition("no scored test rows");
  return models::ComputeMetrics(objective, rows).ToJson();
}

Status WriteRunReport(const config::ExperimentConfig&, models::Objective,
                      const std::vector<EpochRecord>&, const experiment::RunDir&) {
  return Status::Ok();  // TEMPORARY until report/ lands
}

}  // namespace sparrow::launcher
