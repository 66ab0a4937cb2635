// Synthetic data from a known ground-truth model, for tests that training recovers it and
// for scale runs far beyond what fits on disk.
//
//   credit  logistic regression: 4 numeric columns (one 5% missing) and 4 categorical
//           columns; label "default" ~ Bernoulli(sigmoid(bias + sum of weights)).
//   ctr     factorization machine: 8 categorical fields (3..1000 levels), k = 4 factors;
//           label "click" ~ Bernoulli(sigmoid(bias + sum w + sum_{i<j} <v_i, v_j>)).
//   claims  Poisson regression with exposure: "claims" ~ Poisson(exposure *
//           exp(bias + sum of weights)), exposure in [0.05, 1].
//
// Row i is a pure function of (kind, seed, i): any shard of any size, the file and the
// in-process stream all produce the same rows. Random draws use SplitMix64 and explicit
// samplers (not <random> distributions, whose output differs between standard libraries).
//
// The ground truth is expressed in keys: a SynthModel's DataSpec (CSV columns, hash seed
// 0) reads the file into exactly the keys the truth lists, and the stream produces those
// keys directly.
//
// Thread safety: a SynthModel is immutable after Create; SynthStreams are per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "proto/data.pb.h"

namespace sparrow::data {

class SynthModel {
 public:
  // kind: "credit", "ctr" or "claims". The true weights are drawn from `seed`.
  static Result<std::unique_ptr<SynthModel>> Create(const std::string& kind, uint64_t seed);

  const std::string& kind() const { return kind_; }
  // A CSV data spec (columns only; no files) that reads FormatRow's lines into the keys
  // of the truth; format CSV, label binarization none.
  const DataSpec& spec() const { return spec_; }
  // The resolved spec of spec(), equal to what ResolveFeatureSpec makes of the file.
  const FeatureSpec& features() const { return features_; }
  // Ground truth (spec's train set to `path`).
  SynthTruth Truth(uint64_t rows, const std::string& path) const;

  std::string Header() const;  // CSV header line, no newline
  // Appends row `index` as a CSV line with its '\n'.
  void FormatRow(uint64_t index, std::string* out) const;
  // Appends row `index` to *b (has_fields set): the keys parsing FormatRow would give.
  void AppendRow(uint64_t index, Batch* b) const;

 private:
  struct Column {
    std::string name;
    bool numeric;
    uint32_t levels;  // categorical
    uint64_t seed;    // ColumnSeed
    uint32_t field;
  };
  static constexpr size_t kMaxColumns = 16;
  struct Row;  // one drawn row
  void Draw(uint64_t index, Row* row) const;
  double TrueWeight(size_t col, uint32_t level) const;  // level = levels: missing

  SynthModel() = default;
  std::string kind_;
  uint64_t seed_ = 0;
  std::string label_;
  bool claims_ = false, ctr_ = false;
  std::vector<Column> columns_;               // feature columns in field order
  std::vector<std::vector<double>> weights_;  // [col][level], numeric: [0] weight, [1] missing
  std::vector<std::vector<std::vector<double>>> factors_;  // ctr: [col][level][k]
  double bias_ = 0;
  DataSpec spec_;
  FeatureSpec features_;
};

// Rows [0, rows) of a model, those with index % num_shards == shard, in batches.
class SynthStream {
 public:
  SynthStream(const SynthModel& model, uint64_t rows, uint32_t shard, uint32_t num_shards,
              size_t batch_rows);
  // Fills *b with the next batch; false when no rows are left.
  bool Next(Batch* b);

 private:
  const SynthModel& model_;
  uint64_t next_, rows_, step_;
  size_t batch_rows_;
};

// Writes rows [0, rows) as CSV to `path`, the truth to path + ".truth" and the data spec
// to path + ".spec" (both Protobuf text).
Status WriteSynth(const SynthModel& model, uint64_t rows, const std::string& path);

}  // namespace sparrow::data
