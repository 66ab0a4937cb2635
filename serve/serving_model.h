// ServingModel: a model file loaded for the daemon — the Scorer plus what turns a request's
// raw column values into the model's rows, through the model's own feature spec and the
// readers' own code (data/csv_parser.h for CSV models, data/sparse_text_parser.h for
// LIBSVM/LIBFFM models), so clients never hash and serving never disagrees with training.
//
// Record shapes:
//   CSV models     a record names raw column values: {"age": 45, "city": "Hangzhou",
//                  "MonthlyIncome": null}. Column i of columns() receives its text; a
//                  column not given, null, or a `missing` value of the spec is missing.
//                  An absent exposure column means exposure 1 (one unit, e.g. a policy-year).
//   LIBSVM models  a record maps index to value: {"3": 1, "117": 0.5}.
//   LIBFFM models  a record maps "field:index" to value: {"0:3": 1, "2:117": 0.5}.
//
// Thread safety: immutable after Load(); every method is const and reentrant, given one
// Encoder per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "data/csv_parser.h"
#include "data/line_parser.h"
#include "data/sparse_text_parser.h"
#include "scoring/scorer.h"

namespace sparrow::serve {

// What a column of a CSV model expects.
enum class ColumnKind : uint8_t {
  kNumber,  // numeric feature, offset or exposure: a JSON number or null
  kText,    // categorical or crossed-only column: a string, a number (its text) or null
  kIgnored  // label, weight or an ignored column: accepted and dropped
};

// One reason-code source: the feature at position i of a CSV row comes from reasons()[i].
struct ReasonSource {
  std::string name;       // column name, or the cross's name
  std::vector<int> cols;  // the columns whose values make the feature
};

class ServingModel {
 public:
  // Loads and verifies `path` (CRC, header, spec; the format must be CSV, LIBSVM or
  // LIBFFM) and compiles the feature spec. `generation` numbers loads in this process.
  static Result<std::shared_ptr<const ServingModel>> Load(const std::string& path,
                                                          uint64_t generation);

  const scoring::Scorer& scorer() const { return *scorer_; }
  const std::string& id() const { return scorer_->header().model_id(); }
  // Names this model in every response: the file's CRC32C in hex.
  const std::string& version() const { return version_; }
  uint64_t generation() const { return generation_; }
  bool sparse() const { return sparse_; }
  bool ffm() const { return ffm_; }
  models::Objective objective() const { return scorer_->spec().objective; }

  // CSV models: the columns a record may name, and the index of a name (-1: unknown).
  const std::vector<std::string>& columns() const { return columns_; }
  ColumnKind kind(int col) const { return kinds_[col]; }
  int ColumnIndex(std::string_view name) const;
  const std::vector<ReasonSource>& reasons() const { return reasons_; }

  // Per-thread working memory, valid for this model only.
  struct Encoder {
    std::unique_ptr<data::CsvParser::Scratch, data::CsvParser::ScratchDeleter> csv;
    data::ParseOutput sparse;  // reused output of the sparse text parser
    std::string line;          // a sparse record as a text line
  };
  std::unique_ptr<Encoder> NewEncoder() const;

  // CSV models: appends the row of one record (fields by column index; fields.size() ==
  // columns().size()) to *out. Returns "" or the reason (out unchanged).
  // Empty offset/exposure fields are set to "0"/"1" in place.
  std::string EncodeFields(std::span<std::string_view> fields, Encoder* enc,
                           data::Batch* out) const;
  // LIBSVM/LIBFFM models: appends the row of one record given as index (LIBFFM:
  // "field:index") tokens and value tokens. Returns "" or the reason (out unchanged).
  std::string EncodeSparse(std::span<const std::string_view> indices,
                           std::span<const std::string_view> values, Encoder* enc,
                           data::Batch* out) const;

 private:
  ServingModel() = default;
  Status Compile();

  std::shared_ptr<const scoring::Scorer> scorer_;
  std::string version_;
  uint64_t generation_ = 0;
  bool sparse_ = false, ffm_ = false;
  std::unique_ptr<data::CsvParser> csv_;
  std::unique_ptr<data::SparseTextParser> sparse_parser_;
  std::vector<std::string> columns_;
  std::vector<ColumnKind> kinds_;
  std::vector<ReasonSource> reasons_;
  int offset_col_ = -1, exposure_col_ = -1;
  size_t csv_columns_ = 0;  // columns_[0, csv_columns_) are the parser's; the rest dropped
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, int, Hash, std::equal_to<>> index_;
};

}  // namespace sparrow::serve
