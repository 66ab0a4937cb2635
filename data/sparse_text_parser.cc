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
      threshold_(spec.binarize_label_above()) {}

const char* SparseTextParser::ParseLine(const char* p, const char* end, Batch* b, const char** tok,
                                        const char** tok_end) const {
  float label;
  *tok = p;
  const char* q = ParseReal(p, end, &label);
  if (q == nullptr || (q < end && !IsBlank(*q))) {
    while (p < end && !IsBlank(*p)) ++p;
    *tok_end = p;
    return "label not parseable";
  }
  if (binarize_) label = label > threshold_ ? 1.0f : 0.0f;
  const size_t row_start = b->keys.size();
  for (;;) {
    while (q < end && IsBlank(*q)) ++q;
    if (q == end || *q == '#') break;
    *tok = q;
    uint32_t field = 0;
    if (ffm_) {
      uint64_t f;
      const char* r = ParseIndex(q, end, &f);
      if (r == nullptr || r == end || *r != ':') goto bad_field;
      if (f > UINT32_MAX || (max_field_ != 0 && f >= max_field_)) goto field_range;
      field = static_cast<uint32_t>(f);
      q = r + 1;
    }
    {
      const char* s = q;
      uint64_t idx;
      q = ParseIndex(q, end, &idx);
      if (q == nullptr) goto bad_index;
      const char* digits_end = q;
      if (max_index_ != 0 && idx > max_index_) goto index_range;
      float v = 1.0f;
      if (q < end && *q == ':') {
        const char* r = ParseReal(q + 1, end, &v);
        if (r == nullptr) goto bad_value;
        q = r;
      } else if (ffm_) {
        goto bad_value;
      }
      if (q < end && !IsBlank(*q)) goto bad_token;
      uint64_t key = idx;
      if (hash_) {
        while (*s == '0' && s + 1 < digits_end) ++s;  // canonical digits: no leading zeros
        key = FeatureKey(column_seed_, s, static_cast<size_t>(digits_end - s));
      }
      b->keys.push_back(key);
      b->values.push_back(v);
      if (ffm_) b->fields.push_back(field);
    }
  }
  b->labels.push_back(label);
  b->weights.push_back(1.0f);
  b->offsets.push_back(0.0f);
  b->row_offsets.push_back(b->keys.size());
  return nullptr;

  {
    const char* reason;
  bad_field:
    reason = "expected field:index:value";
    goto fail;
  field_range:
    reason = "field out of range";
    goto fail;
  bad_index:
    reason = ffm_ ? "expected field:index:value" : "bad index";
    goto fail;
  index_range:
    reason = "index out of range";
    goto fail;
  bad_value:
    reason = ffm_ ? "bad value in field:index:value" : "bad value";
    goto fail;
  bad_token:
    reason = "bad feature";
  fail:
    const char* e = *tok;
    while (e < end && !IsBlank(*e)) ++e;
    *tok_end = e;
    b->keys.resize(row_start);
    b->values.resize(row_start);
    if (ffm_) b->fields.resize(row_start);
    return reason;
  }
}

void SparseTextParser::Parse(const char* text, size_t size, const LineFilter& filter,
                             ParseOutput* out) const {
  Batch* b = &out->batch;
  b->has_fields = ffm_;
  const char* p = text;
  const char* const stop = text + size;
  for (uint64_t i = 0; p < stop; ++i) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', stop - p));
    const char* end = nl;
    if (end > p && end[-1] == '\r') --end;
    const char* first = p;
    while (first < end && IsBlank(*first)) ++first;
    uint64_t line = filter.first_line == kUnknownLine ? i : filter.first_line + i;
    if (first == end || *first == '#' || !filter.Keep(line)) {
      ++out->skipped;
    } else {
      const char* tok;
      const char* tok_end;
      const char* reason = ParseLine(first, end, b, &tok, &tok_end);
      if (reason != nullptr)
        out->bad.push_back({i, std::string(reason) + ": " + Quote(tok, tok_end)});
    }
    p = nl + 1;
  }
}

}  // namespace sparrow::data
