// The CSV parser: delimited text with a header, turned into features by a column spec.
// Also reads Criteo TSV, which is CSV with a tab, no header and a fixed column spec.
//
// Fields: RFC 4180 quoting ("a,b" and "say ""hi""") is handled; a line break inside
// quotes is not (parallel chunking splits at '\n'), and is reported as an unterminated
// quote. CRLF line endings are fine. A field that is empty or listed in `missing` is
// missing. Keys per column kind (see also core/hash.h, docs/data.md):
//   numeric RAW/LOG      key(name, "#")           value x or sign(x)ln(1+|x|)
//   numeric BUCKETIZE    key(name, "b<i>")        value 1, i = #boundaries <= x
//   LOG_SQUARE_CATEGORY  key(name, "<v>") for v <= 2, key(name, "L<floor(ln(v)^2)>")
//   categorical          key(name, text)          value 1
//   cross                key(cross name, token_1 0x1F token_2 ...)   value 1
//   missing (any kind)   key(name, "")            value 1
//
// Thread safety: Parse() is const and reentrant.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/line_parser.h"
#include "proto/data.pb.h"

namespace sparrow::data {

class CsvParser : public LineParser {
 public:
  // Compiles `spec.columns()` against the column names of a file (its header, or
  // ColumnSpec.names). `split`/`part` select rows by a split column (part 0: all rows).
  // With `learning_bins`, BUCKETIZE columns may lack boundaries (for CollectNumeric).
  static Result<std::unique_ptr<CsvParser>> Create(const FeatureSpec& spec,
                                                   const std::vector<std::string>& names,
                                                   const Split& split, int part,
                                                   bool learning_bins = false);

  // Splits one header line into column names (quotes handled; '\r' stripped).
  static Result<std::vector<std::string>> SplitHeader(std::string_view line, char delimiter);

  void Parse(const char* text, size_t size, const LineFilter& filter,
             ParseOutput* out) const override;
  bool has_fields() const override { return true; }

  // For learning bins: for every kept, well-formed-enough row, appends one value per
  // BUCKETIZE column without boundaries to (*values)[j] (NaN when missing or not a
  // number). Returns rows seen.
  uint64_t CollectNumeric(const char* text, size_t size, const LineFilter& filter,
                          std::vector<std::vector<double>>* values) const;
  // Names of the columns CollectNumeric reports, in order.
  const std::vector<std::string>& learned_columns() const { return learned_names_; }

  // Working memory of one parsing thread; reuse it across ParseFields() calls.
  struct Scratch;
  struct ScratchDeleter {
    void operator()(Scratch* s) const;
  };
  std::unique_ptr<Scratch, ScratchDeleter> NewScratch() const;

  // One record whose fields are already split by column (for the scoring daemon, which gets
  // JSON): fields[i] is column i of the names given to Create(), unquoted; an empty field
  // or a `missing` value is missing. The same transformation as Parse(), split ignored.
  // Requires fields.size() == number of names. Appends one row to *out and returns "", or
  // returns the reason (out unchanged).
  std::string ParseFields(std::span<const std::string_view> fields, Scratch* scratch,
                          Batch* out) const;

 private:
  struct Numeric {
    int col;
    NumericColumn::Transform transform;
    std::vector<double> boundaries;
    uint64_t seed;
    uint32_t field;
  };
  struct Categorical {
    int col;
    uint64_t seed;
    uint32_t field;
  };
  struct Crossing {
    std::vector<int> cols;
    uint64_t seed;
    uint32_t field;
  };
  CsvParser() = default;
  // Splits [p, end) into fields; returns nullptr or a reason.
  const char* Tokenize(const char* p, const char* end, Scratch* s) const;
  bool IsMissing(std::string_view v) const;
  // Parses one tokenized row (fields f) into b, or returns the reason (b unchanged).
  std::string ParseRow(std::span<const std::string_view> f, Scratch* s, Batch* b) const;
  // Whether the split keeps this row.
  bool SplitKeeps(std::string_view v) const;

  char delim_ = ',';
  size_t ncols_ = 0;
  std::vector<std::string> names_;
  std::vector<std::string> missing_;
  int label_ = -1, weight_ = -1, offset_ = -1, exposure_ = -1;
  bool binarize_ = false;
  double threshold_ = 0;
  std::vector<Numeric> numeric_;
  std::vector<Categorical> categorical_;
  std::vector<Crossing> crosses_;
  std::vector<int> token_slot_;   // per column: index into Scratch::tokens for crosses, or -1
  std::vector<char> is_numeric_;  // per column: a numeric column (its token is transformed)
  int split_col_ = -1;
  uint64_t split_modulus_ = 0;
  uint64_t split_test_mask_ = 0;
  int part_ = 0;
  std::vector<int> learned_;  // indices into numeric_ collected by CollectNumeric
  std::vector<std::string> learned_names_;
};

}  // namespace sparrow::data
