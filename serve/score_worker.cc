#include "serve/score_worker.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "models/model.h"
#include "serve/json_writer.h"

namespace sparrow::serve {

OutputOptions ResolveOutputs(const ServeConfig& config) {
  OutputOptions o;
  if (config.has_scorecard()) {
    const Scorecard& s = config.scorecard();
    o.points = true;
    o.points_factor = s.pdo() / std::log(2.0);
    o.points_offset = s.base_score() - o.points_factor * std::log(s.base_odds());
    o.points_sign = s.odds_of_good() ? -1 : 1;
  }
  if (config.has_pricing()) {
    const Pricing& p = config.pricing();
    o.price = true;
    o.severity_loading = p.severity() * p.loading();
    o.price_floor = p.floor();
    o.price_cap = p.cap();
  }
  o.limits.max_records = config.max_records();
  o.limits.max_explain = config.max_explain();
  o.limits.ignore_unknown = config.unknown_column() == ServeConfig::IGNORE;
  return o;
}

namespace {

// Points: ln(odds of the bad event) is the logistic margin itself, exact and finite.
double Points(const OutputOptions& o, float margin) {
  return o.points_offset + o.points_factor * o.points_sign * static_cast<double>(margin);
}

double Price(const OutputOptions& o, float expected) {
  return std::clamp(static_cast<double>(expected) * o.severity_loading, o.price_floor, o.price_cap);
}

}  // namespace

ServingModel::Encoder* ScoreWorker::EncoderFor(const ServingModel& model) {
  if (encoder_ == nullptr || encoder_generation_ != model.generation()) {
    encoder_ = model.NewEncoder();
    encoder_generation_ = model.generation();
  }
  return encoder_.get();
}

void ScoreWorker::Score(const ServingModel& model) {
  margins_.resize(batch_.rows());
  model.scorer().Score(batch_, &ws_, margins_.data());
}

size_t ScoreWorker::TopReasons(const ServingModel& model, size_t r, uint32_t k) {
  const size_t begin = batch_.row_offsets[r], n = batch_.row_offsets[r + 1] - begin;
  contrib_.resize(n);
  model.scorer().Explain(batch_, r, &ws_, contrib_.data());
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) order_[i] = static_cast<uint32_t>(i);
  const size_t top = std::min<size_t>(k, n);
  std::partial_sort(order_.begin(), order_.begin() + top, order_.end(),
                    [&](uint32_t a, uint32_t b) { return contrib_[a] > contrib_[b]; });
  return top;
}

void ScoreWorker::ReasonOf(const ServingModel& model, size_t r, size_t i, std::string_view* column,
                           std::string* value) const {
  value->clear();
  if (model.sparse()) {
    const size_t pos = batch_.row_offsets[r] + i;
    *column = decoded_.indices[pos];
    value->assign(decoded_.values[pos]);
    return;
  }
  const ReasonSource& src = model.reasons()[i];
  *column = src.name;
  const std::string_view* f = decoded_.fields.data() + r * model.columns().size();
  for (size_t j = 0; j < src.cols.size(); ++j) {
    if (j > 0) value->push_back('^');
    value->append(f[src.cols[j]]);
  }
}

int ScoreWorker::ScoreJson(const ServingModel& model, const OutputOptions& opt,
                           simdjson::padded_string_view body, std::string* out, uint64_t* rows,
                           uint64_t* unknown) {
  out->clear();
  *rows = 0;
  Status st =
      DecodeScoreRequest(model, opt.limits, body, &parser_, EncoderFor(model), &batch_, &decoded_);
  *unknown = decoded_.unknown_ignored;
  if (st.ok()) st = models::CheckBatch(model.scorer().spec(), batch_);
  if (!st.ok()) {
    out->append("{\"error\":");
    AppendJsonString(out, st.message());
    out->append("}");
    return 400;
  }
  Score(model);
  *rows = batch_.rows();
  const models::Objective obj = model.objective();
  const bool points = opt.points && obj == models::Objective::kLogistic;
  const bool price = opt.price && obj == models::Objective::kPoisson;
  out->append("{\"model\":");
  AppendJsonString(out, model.id());
  out->append(",\"version\":\"");
  out->append(model.version());
  out->append("\",\"results\":[");
  for (size_t r = 0; r < batch_.rows(); ++r) {
    if (r > 0) out->push_back(',');
    const float score = models::Prediction(obj, margins_[r]);
    out->append("{\"score\":");
    AppendJsonNumber(out, score);
    if (points) {
      out->append(",\"points\":");
      AppendJsonNumber(out, Points(opt, margins_[r]));
    }
    if (price) {
      out->append(",\"price\":");
      AppendJsonNumber(out, Price(opt, score));
    }
    if (decoded_.explain > 0) {
      const size_t top = TopReasons(model, r, decoded_.explain);
      out->append(",\"reasons\":[");
      for (size_t j = 0; j < top; ++j) {
        std::string_view column;
        ReasonOf(model, r, order_[j], &column, &value_);
        if (j > 0) out->push_back(',');
        out->append("{\"column\":");
        AppendJsonString(out, column);
        out->append(",\"value\":");
        AppendJsonString(out, value_);
        out->append(",\"contribution\":");
        AppendJsonNumber(out, contrib_[order_[j]]);
        out->push_back('}');
      }
      out->push_back(']');
    }
    out->push_back('}');
  }
  out->append("]}");
  return 200;
}

namespace {

// Pre-hashed rows into a batch; returns the reason they are malformed, or "".
std::string FillRows(const SparseRows& rows, bool ffm, data::Batch* b) {
  const auto& ro = rows.row_offsets();
  if (ro.empty() || ro[0] != 0) return "rows.row_offsets must start with 0";
  const size_t n = static_cast<size_t>(ro.size()) - 1;
  const uint64_t nnz = static_cast<uint64_t>(rows.keys_size());
  for (size_t r = 0; r < n; ++r) {
    if (ro[r + 1] < ro[r])
      return "rows.row_offsets must not decrease (row " + std::to_string(r) + ")";
  }
  if (ro[n] != nnz) return "rows.row_offsets must end at the number of keys";
  if (rows.values_size() != 0 && static_cast<uint64_t>(rows.values_size()) != nnz)
    return "rows.values must be empty or as many as keys";
  if (ffm && static_cast<uint64_t>(rows.fields_size()) != nnz)
    return "rows.fields must be as many as keys for an FFM model";
  if (rows.offsets_size() != 0 && static_cast<size_t>(rows.offsets_size()) != n)
    return "rows.offsets must be empty or one per row";
  b->has_fields = ffm;
  b->row_offsets.assign(ro.begin(), ro.end());
  b->keys.assign(rows.keys().begin(), rows.keys().end());
  if (rows.values_size() != 0) {
    b->values.assign(rows.values().begin(), rows.values().end());
    for (float v : b->values) {
      if (!std::isfinite(v)) return "rows.values must be finite";
    }
  } else {
    b->values.assign(nnz, 1.0f);
  }
  if (ffm) b->fields.assign(rows.fields().begin(), rows.fields().end());
  b->labels.assign(n, 0.0f);
  b->weights.assign(n, 1.0f);
  if (rows.offsets_size() != 0) {
    b->offsets.assign(rows.offsets().begin(), rows.offsets().end());
  } else {
    b->offsets.assign(n, 0.0f);
  }
  return std::string();
}

}  // namespace

void ScoreWorker::ScoreProto(const ServingModel& model, const OutputOptions& opt,
                             const ScoreRequest& req, ScoreResponse* resp) {
  resp->Clear();
  resp->set_id(req.id());
  resp->set_model(model.id());
  resp->set_version(model.version());
  batch_.Clear();
  std::string why;
  const bool has_records = req.records_size() > 0;
  if (has_records && req.has_rows()) {
    why = "give records or rows, not both";
  } else if (has_records) {
    // Raw columns: text as the JSON endpoint would see it, numbers as their shortest text.
    if (static_cast<uint32_t>(req.records_size()) > opt.limits.max_records) {
      why = "too many records: at most " + std::to_string(opt.limits.max_records);
    }
    ServingModel::Encoder* enc = EncoderFor(model);
    const size_t ncols = model.columns().size();
    decoded_.fields.clear();
    decoded_.indices.clear();
    decoded_.values.clear();
    size_t values = 0;
    for (const Record& rec : req.records()) values += static_cast<size_t>(rec.values_size());
    numbers_.resize(values * kNumberText);
    next_number_ = 0;
    (void)ncols;
    batch_.has_fields = model.sparse() ? model.ffm() : true;
    for (int r = 0; why.empty() && r < req.records_size(); ++r) {
      why = EncodeRecord(model, opt, req.records(r), static_cast<size_t>(r), enc);
    }
  } else if (req.has_rows()) {
    why = FillRows(req.rows(), model.ffm(), &batch_);
  } else {
    why = "no records and no rows";
  }
  if (why.empty()) {
    Status st = models::CheckBatch(model.scorer().spec(), batch_);
    if (!st.ok()) why = st.message();
  }
  if (!why.empty()) {
    resp->set_error(why);
    return;
  }
  Score(model);
  const models::Objective obj = model.objective();
  const bool points = opt.points && obj == models::Objective::kLogistic;
  const bool price = opt.price && obj == models::Objective::kPoisson;
  const uint32_t explain = has_records ? std::min(req.explain(), opt.limits.max_explain) : 0;
  const bool results = points || price || explain > 0;
  resp->mutable_scores()->Reserve(static_cast<int>(batch_.rows()));
  for (size_t r = 0; r < batch_.rows(); ++r) {
    const float score = models::Prediction(obj, margins_[r]);
    resp->add_scores(score);
    if (!results) continue;
    RowResult* res = resp->add_results();
    res->set_score(score);
    if (points) res->set_points(Points(opt, margins_[r]));
    if (price) res->set_price(Price(opt, score));
    const size_t top = explain > 0 ? TopReasons(model, r, explain) : 0;
    for (size_t j = 0; j < top; ++j) {
      std::string_view column;
      ReasonOf(model, r, order_[j], &column, &value_);
      Reason* reason = res->add_reasons();
      reason->set_column(std::string(column));
      reason->set_value(value_);
      reason->set_contribution(contrib_[order_[j]]);
    }
  }
}

std::string ScoreWorker::EncodeRecord(const ServingModel& model, const OutputOptions& opt,
                                      const Record& rec, size_t r, ServingModel::Encoder* enc) {
  // Each number's text gets its own slot of numbers_, which was sized for the request.
  auto number_text = [&](double d) -> std::string_view {
    char* p = numbers_.data() + kNumberText * next_number_++;
    auto res = std::to_chars(p, p + kNumberText, d);
    return std::string_view(p, res.ptr - p);
  };
  if (model.sparse()) {
    // Sparse records: name = index token, number = value.
    const size_t base = decoded_.indices.size();
    for (const Value& v : rec.values()) {
      if (v.v_case() != Value::kNumber || !std::isfinite(v.number())) {
        return "record " + std::to_string(r) + ": index '" + v.name() +
               "': expected a finite number";
      }
      decoded_.indices.push_back(v.name());
      decoded_.values.push_back(number_text(v.number()));
    }
    const size_t n = decoded_.indices.size() - base;
    std::string why = model.EncodeSparse(
        std::span<const std::string_view>(decoded_.indices.data() + base, n),
        std::span<const std::string_view>(decoded_.values.data() + base, n), enc, &batch_);
    return why.empty() ? why : "record " + std::to_string(r) + ": " + why;
  }
  const size_t ncols = model.columns().size();
  const size_t base = decoded_.fields.size();
  decoded_.fields.resize(base + ncols);
  std::string_view* f = decoded_.fields.data() + base;
  if (decoded_.seen.size() != ncols) decoded_.seen.assign(ncols, 0);
  std::fill(decoded_.seen.begin(), decoded_.seen.end(), 0);
  for (const Value& v : rec.values()) {
    const int col = model.ColumnIndex(v.name());
    auto bad = [&](const std::string& why) {
      return "record " + std::to_string(r) + ": column '" + v.name() + "': " + why;
    };
    if (col < 0) {
      if (!opt.limits.ignore_unknown) return bad("unknown column");
      continue;
    }
    if (decoded_.seen[col]) return bad("given twice");
    decoded_.seen[col] = 1;
    const ColumnKind kind = model.kind(col);
    if (kind == ColumnKind::kIgnored) continue;
    switch (v.v_case()) {
      case Value::kNumber:
        if (!std::isfinite(v.number())) return bad("not a finite number");
        f[col] = number_text(v.number());
        break;
      case Value::kText:
        if (kind == ColumnKind::kNumber) return bad("expected a number, got text");
        f[col] = v.text();
        break;
      case Value::V_NOT_SET:
        break;
    }
  }
  std::string why = model.EncodeFields(std::span<std::string_view>(f, ncols), enc, &batch_);
  return why.empty() ? why : "record " + std::to_string(r) + ": " + why;
}

}  // namespace sparrow::serve
