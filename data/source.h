// One epoch of a worker's data, whatever its origin: text files (parsed in parallel,
// shuffled through DataSpec.shuffle_window), a binary cache (block order and rows
// permuted per epoch), or a synthetic model (DataSpec.synth, no disk). The trainer calls
// ReadEpoch once per epoch with its shard; batches arrive with exactly batch_rows rows
// (the last of the epoch may be shorter).
//
// Shuffling is seeded by (DataSpec.shuffle_seed, epoch): the same run reads the same order,
// and every epoch another one.
//
// Thread safety: blocks the caller; the sink runs on one thread at a time.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "data/text_reader.h"
#include "proto/data.pb.h"

namespace sparrow::data {

struct SourceOptions {
  int threads = 1;
  uint32_t shard = 0;
  uint32_t num_shards = 1;
  SplitPart part = SplitPart::kTrain;  // kTrain/kTest: the spec's split, if it has one
  size_t batch_rows = 1000;
  uint64_t epoch = 0;
  // Which files: the spec's `train` (default) or `test` list.
  bool test_files = false;
};

// Resolves the FeatureSpec of `data` the way ReadEpoch reads it: from the cache header
// for CACHE, from the synthetic model for `synth`, else ResolveFeatureSpec.
Result<FeatureSpec> SourceFeatureSpec(const DataSpec& data);

// Reads one epoch of `data` under `features` (which a cache must match).
Status ReadEpoch(const DataSpec& data, const FeatureSpec& features, const SourceOptions& options,
                 const BatchSink& sink, ReadStats* stats);

}  // namespace sparrow::data
