#include "data/batch.h"

namespace sparrow::data {

void Batch::Clear() {
  row_offsets.resize(1);
  row_offsets[0] = 0;
  keys.clear();
  values.clear();
  fields.clear();
  labels.clear();
  weights.clear();
  offsets.clear();
}

void Batch::AppendRow(const Batch& src, size_t r) {
  AppendRows(src, r, r + 1);
}

void Batch::AppendRows(const Batch& src, size_t begin, size_t end) {
  if (begin >= end) return;
  const uint64_t from = src.row_offsets[begin];
  const uint64_t to = src.row_offsets[end];
  const uint64_t base = keys.size();
  keys.insert(keys.end(), src.keys.begin() + from, src.keys.begin() + to);
  values.insert(values.end(), src.values.begin() + from, src.values.begin() + to);
  if (src.has_fields) {
    fields.insert(fields.end(), src.fields.begin() + from, src.fields.begin() + to);
  }
  for (size_t r = begin; r < end; ++r) row_offsets.push_back(base + src.row_offsets[r + 1] - from);
  labels.insert(labels.end(), src.labels.begin() + begin, src.labels.begin() + end);
  weights.insert(weights.end(), src.weights.begin() + begin, src.weights.begin() + end);
  offsets.insert(offsets.end(), src.offsets.begin() + begin, src.offsets.begin() + end);
}

bool Batch::Valid() const {
  const size_t n = labels.size();
  if (row_offsets.size() != n + 1 || weights.size() != n || offsets.size() != n) return false;
  if (row_offsets[0] != 0 || row_offsets[n] != keys.size()) return false;
  for (size_t r = 0; r < n; ++r) {
    if (row_offsets[r] > row_offsets[r + 1]) return false;
  }
  if (values.size() != keys.size()) return false;
  if (fields.size() != (has_fields ? keys.size() : 0)) return false;
  return true;
}

bool Batch::operator==(const Batch& o) const {
  return has_fields == o.has_fields && row_offsets == o.row_offsets && keys == o.keys &&
         values == o.values && fields == o.fields && labels == o.labels && weights == o.weights &&
         offsets == o.offsets;
}

}  // namespace sparrow::data
