// Scoring files with a loaded model: the rows go through the model's own feature spec
// (format, columns, bins, hashing), then through Scorer::Score.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "data/text_reader.h"
#include "scoring/scorer.h"

namespace sparrow::scoring {

// The data block of the experiment the model was trained by (its header's config).
Result<data::DataSpec> TrainingDataSpec(const Scorer& scorer);

using ScoredSink = std::function<Status(const data::Batch& batch, const float* margins)>;

// Reads `files` (the training config's split applied when `part` is not kAll) and calls
// `sink` with every batch and its margins, in file order.
Status ScoreFiles(const Scorer& scorer, const std::vector<std::string>& files, data::SplitPart part,
                  int threads, const ScoredSink& sink);

}  // namespace sparrow::scoring
