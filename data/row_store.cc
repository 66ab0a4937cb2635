#include "data/row_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>

namespace sparrow::data {
namespace {

// Rows ahead of the copy whose records are prefetched: enough to cover a DRAM miss with
// the copying of the rows in between.
constexpr size_t kAhead = 8;
// Keys whose key-to-id lookups Append overlaps.
constexpr size_t kIdBlock = 16;

template <typename T>
void Put(unsigned char*& p, const T* v, size_t n) {
  std::memcpy(p, v, n * sizeof(T));
  p += n * sizeof(T);
}

}  // namespace

void RowStore::Grow(size_t bytes) {
  LargeBuffer<unsigned char> bigger = MakeLargeBuffer<unsigned char>(bytes);
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = bytes;
}

void RowStore::Reserve(size_t rows, size_t nnz) {
  start_.reserve(start_.size() + rows);
  const size_t want = size_ + rows * kHeader + nnz * NonZeroBytes();
  if (want > capacity_) Grow(want);
}

void RowStore::Append(const Batch& src, size_t r) {
  CHECK(!sealed_) << "RowStore::Append after Seal";
  const uint64_t b = src.row_offsets[r], e = src.row_offsets[r + 1];
  const uint32_t nnz = static_cast<uint32_t>(e - b);
  const size_t at = size_;
  if (at + RecordBytes(nnz) > capacity_) Grow(std::max(2 * capacity_, at + RecordBytes(nnz)));
  size_ += RecordBytes(nnz);
  unsigned char* p = data_.get() + at;
  const float head[3] = {src.labels[r], src.weights[r], src.offsets[r]};
  Put(p, &nnz, 1);
  Put(p, head, 3);
  // A row's keys are looked up together: their map slots are prefetched first, so the
  // cache misses of a row overlap instead of following one another.
  for (uint64_t i = b; i < e; i += kIdBlock) {
    const size_t m = std::min<uint64_t>(kIdBlock, e - i);
    for (size_t j = 0; j < m; ++j) ids_.Prefetch(src.keys[i + j]);
    uint32_t ids[kIdBlock];
    for (size_t j = 0; j < m; ++j) ids[j] = ids_.Number(src.keys[i + j]);
    Put(p, ids, m);
  }
  Put(p, src.values.data() + b, nnz);
  if (has_fields_) Put(p, src.fields.data() + b, nnz);
  start_.push_back(size_);
}

void RowStore::Seal() {
  if (sealed_) return;
  sealed_ = true;
  // rank[arrival id] = position of its key in ascending order.
  std::vector<uint32_t> rank;
  ids_.Rank(&keys_, &rank);
  ids_ = KeyNumbering();
  for (uint32_t row = 0; row < rows(); ++row) {
    unsigned char* p = data_.get() + start_[row] + kHeader;
    const size_t nnz = Nnz(row);
    for (size_t j = 0; j < nnz; ++j, p += sizeof(uint32_t)) {
      uint32_t id;
      std::memcpy(&id, p, sizeof(id));
      id = rank[id];
      std::memcpy(p, &id, sizeof(id));
    }
  }
}

void RowStore::Gather(const uint32_t* rows, size_t n, Batch* out,
                      std::vector<uint32_t>* ids) const {
  DCHECK(sealed_) << "RowStore::Gather before Seal";
  size_t nnz = 0;
  for (size_t i = 0; i < n; ++i) nnz += Nnz(rows[i]);
  out->has_fields = has_fields_;
  out->row_offsets.resize(n + 1);
  out->keys.clear();
  ids->resize(nnz);
  out->values.resize(nnz);
  out->fields.resize(has_fields_ ? nnz : 0);
  out->labels.resize(n);
  out->weights.resize(n);
  out->offsets.resize(n);
  out->row_offsets[0] = 0;
  const unsigned char* base = data_.get();
  size_t at = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      const uint64_t s = start_[rows[i + kAhead]];
      for (uint64_t line = s & ~uint64_t{63}; line < start_[rows[i + kAhead] + 1]; line += 64) {
        __builtin_prefetch(base + line);
      }
    }
    const unsigned char* p = base + start_[rows[i]] + sizeof(uint32_t);
    const size_t k = Nnz(rows[i]);
    float head[3];
    std::memcpy(head, p, sizeof(head));
    p += sizeof(head);
    out->labels[i] = head[0];
    out->weights[i] = head[1];
    out->offsets[i] = head[2];
    std::memcpy(ids->data() + at, p, k * sizeof(uint32_t));
    p += k * sizeof(uint32_t);
    std::memcpy(out->values.data() + at, p, k * sizeof(float));
    p += k * sizeof(float);
    if (has_fields_) std::memcpy(out->fields.data() + at, p, k * sizeof(uint32_t));
    at += k;
    out->row_offsets[i + 1] = at;
  }
}

}  // namespace sparrow::data
