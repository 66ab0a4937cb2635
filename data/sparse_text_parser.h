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
#include <vector>

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

  // Parses one feature at *pos into b and advances *pos past it; returns nullptr, or the
  // reason it is bad (b unchanged).
  const char* ParseFeature(const char** pos, const char* end, Batch* b) const;

  // Keys of indices below kSmallIndices, precomputed: most LIBSVM data sets number their
  // features densely from 1, and a table lookup is several times cheaper than XXH3.
  static constexpr uint64_t kSmallIndices = 4096;
  std::vector<uint64_t> small_keys_;

  bool ffm_;
  bool hash_;
  uint64_t column_seed_;
  uint64_t max_index_;
  uint32_t max_field_;
  bool binarize_;
  double threshold_;
};

}  // namespace sparrow::data
