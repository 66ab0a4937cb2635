#include "serve/serving_model.h"

#include <cstdio>

namespace sparrow::serve {

Result<std::shared_ptr<const ServingModel>> ServingModel::Load(const std::string& path,
                                                               uint64_t generation) {
  std::shared_ptr<ServingModel> m(new ServingModel());
  SPARROW_ASSIGN_OR_RETURN(m->scorer_, scoring::Scorer::Load(path));
  char hex[16];
  std::snprintf(hex, sizeof(hex), "%08x", m->scorer_->file_crc());
  m->version_ = hex;
  m->generation_ = generation;
  SPARROW_RETURN_IF_ERROR(m->Compile());
  return std::shared_ptr<const ServingModel>(std::move(m));
}

Status ServingModel::Compile() {
  const data::FeatureSpec& spec = scorer_->features();
  switch (spec.format()) {
    case data::LIBSVM:
    case data::LIBFFM:
      sparse_ = true;
      ffm_ = spec.format() == data::LIBFFM;
      sparse_parser_ = std::make_unique<data::SparseTextParser>(spec);
      return Status::Ok();
    case data::CSV:
      break;
    default:
      return InvalidArgument(scorer_->path() +
                             ": the daemon serves CSV, LIBSVM and LIBFFM models, "
                             "not format " +
                             data::Format_Name(spec.format()));
  }
  // The record's columns: features first (the order the parser emits them, which the
  // reason codes follow), then offset and exposure, then known columns that are dropped.
  const data::ColumnSpec& cs = spec.columns();
  auto add = [&](const std::string& name, ColumnKind kind) {
    auto [it, fresh] = index_.emplace(name, static_cast<int>(columns_.size()));
    if (fresh) {
      columns_.push_back(name);
      kinds_.push_back(kind);
    }
    return it->second;
  };
  for (const auto& n : cs.numeric()) {
    reasons_.push_back({n.name(), {add(n.name(), ColumnKind::kNumber)}});
  }
  for (const auto& c : cs.categorical()) {
    reasons_.push_back({c.name(), {add(c.name(), ColumnKind::kText)}});
  }
  for (const auto& x : cs.cross()) {
    ReasonSource r;
    for (const std::string& name : x.columns()) {
      r.cols.push_back(add(name, ColumnKind::kText));
      r.name += r.name.empty() ? name : "^" + name;
    }
    if (x.has_name()) r.name = x.name();
    reasons_.push_back(std::move(r));
  }
  if (cs.has_offset()) offset_col_ = add(cs.offset(), ColumnKind::kNumber);
  if (cs.has_exposure()) exposure_col_ = add(cs.exposure(), ColumnKind::kNumber);
  const size_t parsed = columns_.size();
  // The parser sees only the columns above: requests carry no label, weight or split.
  data::FeatureSpec serving = spec;
  data::ColumnSpec* scs = serving.mutable_columns();
  scs->clear_label();
  scs->clear_weight();
  scs->clear_names();
  serving.clear_binarize_label_above();
  SPARROW_ASSIGN_OR_RETURN(csv_, data::CsvParser::Create(serving, columns_, data::Split(), 0));
  if (cs.has_label()) add(cs.label(), ColumnKind::kIgnored);
  if (cs.has_weight()) add(cs.weight(), ColumnKind::kIgnored);
  for (const std::string& name : cs.ignore()) add(name, ColumnKind::kIgnored);
  csv_columns_ = parsed;
  return Status::Ok();
}

int ServingModel::ColumnIndex(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

std::unique_ptr<ServingModel::Encoder> ServingModel::NewEncoder() const {
  auto enc = std::make_unique<Encoder>();
  if (csv_) enc->csv = csv_->NewScratch();
  enc->sparse.batch.has_fields = ffm_;
  return enc;
}

std::string ServingModel::EncodeFields(std::span<std::string_view> fields, Encoder* enc,
                                       data::Batch* out) const {
  if (offset_col_ >= 0 && fields[offset_col_].empty()) fields[offset_col_] = "0";
  if (exposure_col_ >= 0 && fields[exposure_col_].empty()) fields[exposure_col_] = "1";
  // Ignored columns sit after the parsed ones; the parser sees only its own.
  return csv_->ParseFields(fields.first(csv_columns_), enc->csv.get(), out);
}

std::string ServingModel::EncodeSparse(std::span<const std::string_view> indices,
                                       std::span<const std::string_view> values, Encoder* enc,
                                       data::Batch* out) const {
  // The record becomes one line of the text format and goes through the reader's own
  // parser: the same index rules, hashing and range checks as training data.
  for (std::string_view t : indices) {
    // Digits (LIBFFM: digits ':' digits) only, so a token cannot smuggle in a second one.
    size_t colons = 0;
    for (char ch : t) {
      if (ch == ':')
        ++colons;
      else if (ch < '0' || ch > '9')
        return "bad index '" + std::string(t.substr(0, 40)) + "'";
    }
    if (t.empty() || colons != (ffm_ ? 1u : 0u) || t.front() == ':' || t.back() == ':') {
      return std::string(ffm_ ? "expected \"field:index\", not '" : "bad index '") +
             std::string(t.substr(0, 40)) + "'";
    }
  }
  std::string& line = enc->line;
  line.assign("0");
  for (size_t i = 0; i < indices.size(); ++i) {
    line.push_back(' ');
    line.append(indices[i]);
    line.push_back(':');
    line.append(values[i]);
  }
  line.push_back('\n');
  data::ParseOutput& po = enc->sparse;
  po.Clear();
  sparse_parser_->Parse(line.data(), line.size(), data::LineFilter(), &po);
  if (!po.bad.empty()) return po.bad[0].reason;
  if (po.batch.rows() != 1) return "not a record";
  out->has_fields = ffm_;
  out->AppendRow(po.batch, 0);
  return std::string();
}

}  // namespace sparrow::serve
