#include "data/sparse_text_parser.h"

#include <cstring>
#include <string>

#include "core/hash.h"
#include "data/number_parse.h"

namespace sparrow::data {
namespace {

inline bool IsBlank(char c) {
  return c == ' ' || c == '\t';
}

std::string Quote(const char* b, const char* e) {
  constexpr ptrdiff_t kMax = 40;
  if (e - b > kMax) return "'" + std::string(b, kMax) + "...'";
  return "'" + std::string(b, e) + "'";
}

}  // namespace

SparseTextParser::SparseTextParser(const FeatureSpec& spec)
    : ffm_(spec.format() == LIBFFM),
      hash_(spec.hash_indices()),
      column_seed_(ColumnSeed(spec.hash_seed(), "")),
      max_index_(spec.max_index()),
      max_field_(spec.max_field()),
      binarize_(spec.has_binarize_label_above()),
      threshold_(spec.binarize_label_above()) {
  small_keys_.resize(kSmallIndices);
  for (uint64_t i = 0; i < kSmallIndices; ++i) {
    std::string digits = std::to_string(i);
    small_keys_[i] = FeatureKey(column_seed_, digits.data(), digits.size());
  }
}

__attribute__((always_inline)) inline const char* SparseTextParser::ParseFeature(const char** pos,
                                                                                 const char* end,
                                                                                 Batch* b) const {
  const char* q = *pos;
  uint32_t field = 0;
  if (ffm_) {
    uint64_t f;
    const char* r = ParseIndex(q, end, &f);
    if (r == nullptr || r == end || *r != ':') return "expected field:index:value";
    if (f > UINT32_MAX || (max_field_ != 0 && f >= max_field_)) return "field out of range";
    field = static_cast<uint32_t>(f);
    q = r + 1;
  }
  const char* digits = q;
  uint64_t idx;
  q = ParseIndex(q, end, &idx);
  if (q == nullptr) return ffm_ ? "expected field:index:value" : "bad index";
  const char* digits_end = q;
  if (max_index_ != 0 && idx > max_index_) return "index out of range";
  float v = 1.0f;
  if (q < end && *q == ':') {
    q = ParseReal(q + 1, end, &v);
    if (q == nullptr) return ffm_ ? "bad value in field:index:value" : "bad value";
  } else if (ffm_) {
    return "bad value in field:index:value";
  }
  if (q < end && !IsBlank(*q)) return "bad feature";
  uint64_t key = idx;
  if (hash_) {
    if (idx < kSmallIndices) {
      key = small_keys_[idx];  // the same key, looked up instead of hashed
    } else {
      while (*digits == '0' && digits + 1 < digits_end) ++digits;  // canonical: no leading 0s
      key = FeatureKey(column_seed_, digits, static_cast<size_t>(digits_end - digits));
    }
  }
  b->keys.push_back(key);
  b->values.push_back(v);
  if (ffm_) b->fields.push_back(field);
  *pos = q;
  return nullptr;
}

const char* SparseTextParser::ParseLine(const char* p, const char* end, Batch* b, const char** tok,
                                        const char** tok_end) const {
  float label;
  *tok = p;
  const char* q = ParseReal(p, end, &label);
  const char* reason = nullptr;
  if (q == nullptr || (q < end && !IsBlank(*q))) {
    reason = "label not parseable";
  } else {
    if (binarize_) label = label > threshold_ ? 1.0f : 0.0f;
    const size_t row_start = b->keys.size();
    for (;;) {
      while (q < end && IsBlank(*q)) ++q;
      if (q == end || *q == '#') break;
      *tok = q;
      reason = ParseFeature(&q, end, b);
      if (reason != nullptr) {
        // Nothing of a bad line stays in the batch.
        b->keys.resize(row_start);
        b->values.resize(row_start);
        if (ffm_) b->fields.resize(row_start);
        break;
      }
    }
  }
  if (reason != nullptr) {
    const char* e = *tok;
    while (e < end && !IsBlank(*e)) ++e;
    *tok_end = e;
    return reason;
  }
  b->labels.push_back(label);
  b->weights.push_back(1.0f);
  b->offsets.push_back(0.0f);
  b->row_offsets.push_back(b->keys.size());
  return nullptr;
}

void SparseTextParser::Parse(const char* text, size_t size, const LineFilter& filter,
                             ParseOutput* out) const {
  Batch* b = &out->batch;
  b->has_fields = ffm_;
  ForEachLine(text, size, filter,
              [&](uint64_t i, uint64_t line, const char* first, const char* end) {
                while (first < end && IsBlank(*first)) ++first;
                if (first == end || *first == '#' || !filter.Keep(line)) {
                  ++out->skipped;
                  return;
                }
                const char* tok;
                const char* tok_end;
                const char* reason = ParseLine(first, end, b, &tok, &tok_end);
                if (reason != nullptr)
                  out->bad.push_back({i, std::string(reason) + ": " + Quote(tok, tok_end)});
              });
}

}  // namespace sparrow::data
