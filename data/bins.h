// Learning quantile bins for BUCKETIZE columns that give no boundaries.
//
// One pass over the training split of the train files (never the test split: what the
// model is scored on must not shape its features), a reservoir sample of
// DataSpec.bin_sample_rows rows with a fixed seed (so the same data gives the same bins),
// then for b bins the boundaries are the distinct sample quantiles at k/b, k = 1..b-1.
// Missing values are left out of the sample; they get their own key (csv_parser.h).
#pragma once

#include <vector>

#include "core/status.h"
#include "proto/data.pb.h"

namespace sparrow::data {

// Fills in the boundaries of every BUCKETIZE column of features->columns() that has none.
Status LearnBins(const DataSpec& data, FeatureSpec* features);

// The quantile boundaries of `values` (NaN entries skipped) for `bins` bins. Empty only
// when no value is finite.
std::vector<double> QuantileBoundaries(std::vector<double> values, uint32_t bins);

}  // namespace sparrow::data
