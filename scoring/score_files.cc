#include "scoring/score_files.h"

#include <google/protobuf/text_format.h>

#include "models/model.h"
#include "proto/config.pb.h"

namespace sparrow::scoring {

Result<data::DataSpec> TrainingDataSpec(const Scorer& scorer) {
  config::ExperimentConfig cfg;
  if (!google::protobuf::TextFormat::ParseFromString(scorer.header().config_text(), &cfg)) {
    return DataLoss(scorer.path() + ": the config stored in the model does not parse");
  }
  return cfg.data();
}

Status ScoreFiles(const Scorer& scorer, const std::vector<std::string>& files, data::SplitPart part,
                  int threads, const ScoredSink& sink) {
  SPARROW_ASSIGN_OR_RETURN(data::DataSpec spec, TrainingDataSpec(scorer));
  data::ReadOptions ro;
  ro.threads = threads;
  ro.part = part;
  Scorer::Workspace ws;
  std::vector<float> margins;
  return data::ReadText(
      spec, scorer.features(), files, ro,
      [&](const data::Batch& b) {
        SPARROW_RETURN_IF_ERROR(models::CheckBatch(scorer.spec(), b));
        margins.resize(b.rows());
        scorer.Score(b, &ws, margins.data());
        return sink(b, margins.data());
      },
      nullptr);
}

}  // namespace sparrow::scoring
