#include "launcher/evaluation.h"

#include "report/report.h"

namespace sparrow::launcher {

Result<models::Metrics> TestMetrics(models::Objective objective,
                                    const std::vector<models::Scored>& rows) {
  if (rows.empty()) return FailedPrecondition("no scored test rows");
  return models::ComputeMetrics(objective, rows);
}

Status WriteRunReport(const std::string& title, models::Objective objective,
                      const models::Metrics& final_test, const std::vector<EpochRecord>& history,
                      const std::string& config_text, const std::string& path) {
  report::ReportInput in;
  in.title = title;
  in.objective = objective;
  in.test = final_test;
  in.config_text = config_text;
  for (const auto& h : history) {
    report::EpochRecord r;
    r.epoch = h.epoch;
    r.train_loss = h.train_loss;
    r.examples_per_s = h.examples_per_s;
    for (const char* k : {"auc", "logloss", "ks", "poisson_deviance", "rmse"}) {
      if (h.test.contains(k) && h.test[k].is_number()) {
        r.validation[std::string("test ") + k] = h.test[k].get<double>();
      }
    }
    if (h.validation_loss >= 0) r.validation["validation loss"] = h.validation_loss;
    in.epochs.push_back(r);
  }
  return report::WriteReport(in, path);
}

}  // namespace sparrow::launcher
