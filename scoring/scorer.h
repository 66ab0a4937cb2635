// Scorer: a model file loaded for scoring — by `sparrow predict`, `sparrow eval` and the
// scoring daemon — through the same model code training uses (models/model.h).
//
// Rows live in the store's own flat hash table (server/sparse_table.h), one per table, so
// a lookup is one probe. A key the model file does not hold scores as the servers would
// have answered a pull of it: linear weight 0, factor row from the deterministic
// initialisation (server/optimizer.h), so training's evaluation and serving agree.
//
// Thread safety: a loaded Scorer is immutable; Score() may run on many threads at once,
// each with its own Workspace.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "models/model.h"
#include "proto/model.pb.h"
#include "server/sparse_table.h"

namespace sparrow::scoring {

class Scorer {
 public:
  // Per-thread scratch; reuse it across calls so scoring allocates nothing.
  struct Workspace {
    std::vector<uint64_t> unique;
    std::vector<uint32_t> slot;
    std::vector<float> w, v;
    models::Workspace model;
  };

  // Reads and verifies `path` (CRC, header, spec) and builds the lookup tables.
  static Result<std::shared_ptr<const Scorer>> Load(const std::string& path);

  // Writes the margin of every row of `batch` (which came through features()).
  // Requires models::CheckBatch(spec(), batch) to hold.
  void Score(const data::Batch& batch, Workspace* ws, float* margins) const;
  // Per-feature contributions to row `row`'s margin (models::Contributions); call after
  // Score() on the same batch and workspace.
  void Explain(const data::Batch& batch, size_t row, Workspace* ws, float* out) const;

  const model::ModelHeader& header() const { return header_; }
  const models::ModelSpec& spec() const { return spec_; }
  const data::FeatureSpec& features() const { return header_.features(); }
  uint64_t keys() const { return keys_; }
  uint32_t file_crc() const { return crc_; }
  const std::string& path() const { return path_; }
  // The stored rows of table "w" (linear) and, if any, "v" (factors).
  const server::SparseTable& linear() const { return *w_; }
  const server::SparseTable* factors() const { return v_.get(); }

 private:
  Scorer() = default;
  void Gather(const data::Batch& batch, Workspace* ws) const;
  models::Params ParamsOf(const Workspace& ws) const;

  std::string path_;
  model::ModelHeader header_;
  models::ModelSpec spec_;
  std::unique_ptr<server::SparseTable> w_, v_;
  uint64_t keys_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace sparrow::scoring
