#include "scoring/scorer.h"

#include <algorithm>
#include <cstring>

#include "data/batch_keys.h"
#include "experiment/experiment.h"
#include "model_file/model_file.h"
#include "server/optimizer.h"

namespace sparrow::scoring {
namespace {

Result<models::ModelSpec> SpecOf(const model::ModelHeader& h, const std::string& path) {
  auto s = experiment::ModelSpecOfModel(h.model(), h.num_fields());
  if (!s.ok()) return DataLoss(path + ": header describes no valid model: " + s.status().message());
  return s;
}

std::unique_ptr<server::SparseTable> TableOf(const model_file::ModelData::Table& t) {
  auto table = std::make_unique<server::SparseTable>(t.width, t.keys.size());
  for (size_t i = 0; i < t.keys.size(); ++i) {
    bool inserted;
    float* row = table->FindOrInsert(t.keys[i], &inserted);
    std::memcpy(row, t.weights.data() + i * t.width, t.width * sizeof(float));
  }
  return table;
}

}  // namespace

Result<std::shared_ptr<const Scorer>> Scorer::Load(const std::string& path) {
  SPARROW_ASSIGN_OR_RETURN(model_file::ModelData data, model_file::ReadModel(path));
  std::shared_ptr<Scorer> s(new Scorer());
  s->path_ = path;
  s->header_ = std::move(data.header);
  SPARROW_ASSIGN_OR_RETURN(s->spec_, SpecOf(s->header_, path));
  for (int i = 0; i < s->header_.tables_size(); ++i) {
    const auto& info = s->header_.tables(i);
    if (info.name() == "w") {
      if (info.width() != 1) return DataLoss(path + ": table 'w' must have width 1");
      s->w_ = TableOf(data.tables[i]);
      s->keys_ = std::max<uint64_t>(s->keys_, info.rows());
    } else if (info.name() == "v") {
      if (info.width() != s->spec_.FactorWidth()) {
        return DataLoss(path + ": table 'v' has width " + std::to_string(info.width()) +
                        ", the model needs " + std::to_string(s->spec_.FactorWidth()));
      }
      s->v_ = TableOf(data.tables[i]);
      s->keys_ = std::max<uint64_t>(s->keys_, info.rows());
    }
  }
  if (!s->w_) s->w_ = std::make_unique<server::SparseTable>(1);
  if (s->spec_.FactorWidth() > 0 && !s->v_) {
    s->v_ = std::make_unique<server::SparseTable>(s->spec_.FactorWidth());
  }
  // The file's CRC is its trailer: identifies this exact file in logs and responses.
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f != nullptr) {
    std::fseek(f, -4, SEEK_END);
    if (std::fread(&s->crc_, 4, 1, f) != 1) s->crc_ = 0;
    std::fclose(f);
  }
  return std::shared_ptr<const Scorer>(std::move(s));
}

void Scorer::Gather(const data::Batch& batch, Workspace* ws) const {
  data::UniqueKeys(batch, &ws->unique, &ws->slot);
  const size_t n = ws->unique.size();
  ws->w.resize(n);
  for (size_t u = 0; u < n; ++u) {
    const float* row = w_->Find(ws->unique[u]);
    ws->w[u] = row ? row[0] : 0.0f;
  }
  const uint32_t fw = spec_.FactorWidth();
  if (fw == 0) return;
  ws->v.resize(n * fw);
  const float scale = header_.model().init_scale();
  const uint64_t seed = header_.model().seed();
  const bool admit_later = header_.model().factor_min_count() > 1;
  for (size_t u = 0; u < n; ++u) {
    const float* row = v_->Find(ws->unique[u]);
    float* out = ws->v.data() + u * fw;
    if (row != nullptr) {
      std::memcpy(out, row, fw * sizeof(float));
    } else if (admit_later) {
      std::fill(out, out + fw, 0.0f);  // never admitted: no factor row, as in training
    } else {
      for (uint32_t j = 0; j < fw; ++j)
        out[j] = server::InitialWeight(ws->unique[u], seed, j, scale);
    }
  }
}

models::Params Scorer::ParamsOf(const Workspace& ws) const {
  models::Params p;
  p.w = ws.w.data();
  p.v = spec_.FactorWidth() > 0 ? ws.v.data() : nullptr;
  p.bias = header_.bias();
  return p;
}

void Scorer::Score(const data::Batch& batch, Workspace* ws, float* margins) const {
  Gather(batch, ws);
  models::Forward(spec_, batch, ws->slot.data(), ParamsOf(*ws), margins, &ws->model);
}

void Scorer::Explain(const data::Batch& batch, size_t row, Workspace* ws, float* out) const {
  models::Contributions(spec_, batch, ws->slot.data(), ParamsOf(*ws), row, out, &ws->model);
}

}  // namespace sparrow::scoring
