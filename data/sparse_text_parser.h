// Parsers for the sparse text formats:
//   LIBSVM  "label idx[:value] idx[:value] ... [# comment]"   (idx alone means value 1)
//   LIBFFM  "label field:idx:value ..."
// Fields are separated by spaces or tabs; a line may end in "\r\n"; blank lines and lines
// starting with '#' are skipped.
//
// Keys: with hash_indices, key = FeatureKey(ColumnSeed(seed, ""), index digits without
// leading zeros) -- the same key for the same index in both formats; the LIBFFM field is
// carried in `fields`, not in the key. Without hash_indices the index is the key.
#pragma once

#include <cstdint>

#include "data/line_parser.h"
#include "proto/data.pb.h"

namespace sparrow::data {

class SparseTextParser : public LineParser {
 public:
  // Requires spec.format() to be LIBSVM or LIBFFM.
  explicit SparseTextParser(const FeatureSpec& spec);

  void Parse(const char* text, size_t size, const LineFilter& filter,
             ParseOutput* out) const override;
  bool has_fields() const override { return ffm_; }

 private:
  // Parses the line [p, end) into a row of b. Returns nullptr, or the reason it is bad
  // (then b is as before); [*tok, *tok_end) is the offending token.
  const char* ParseLine(const char* p, const char* end, Batch* b, const char** tok,
                        const char** tok_end) const;

  bool ffm_;
  bool hash_;
  uint64_t column_seed_;
  uint64_t max_index_;
  uint32_t max_field_;
  bool binarize_;
  double threshold_;
};

}  // namespace sparrow::data
