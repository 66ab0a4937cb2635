#include "data/row_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace sparrow::data {
namespace {

// Rows ahead of the copy whose records are prefetched: enough to cover a DRAM miss with
// the copying of the rows in between.
constexpr size_t kAhead = 8;

template <typename T>
void Put(unsigned char*& p, const T* v, size_t n) {
  std::memcpy(p, v, n * sizeof(T));
  p += n * sizeof(T);
}

size_t Hash(uint64_t key, size_t mask) {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
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

uint32_t RowStore::IdOf(uint64_t key) {
  if (2 * (keys_.size() + 1) > map_keys_.size()) {  // keep the map at most half full
    const size_t size = std::max<size_t>(1024, 2 * map_keys_.size());
    std::vector<uint64_t> old_keys(size);
    std::vector<uint32_t> old_ids(size, 0);
    old_keys.swap(map_keys_);
    old_ids.swap(map_ids_);
    for (size_t i = 0; i < old_ids.size(); ++i) {
      if (old_ids[i] == 0) continue;
      size_t h = Hash(old_keys[i], size - 1);
      while (map_ids_[h] != 0) h = (h + 1) & (size - 1);
      map_keys_[h] = old_keys[i];
      map_ids_[h] = old_ids[i];
    }
  }
  const size_t mask = map_keys_.size() - 1;
  size_t h = Hash(key, mask);
  while (map_ids_[h] != 0 && map_keys_[h] != key) h = (h + 1) & mask;
  if (map_ids_[h] == 0) {
    CHECK_LT(keys_.size(), size_t{std::numeric_limits<uint32_t>::max()})
        << "a row store holds fewer than 2^32 distinct keys";
    map_keys_[h] = key;
    keys_.push_back(key);
    map_ids_[h] = static_cast<uint32_t>(keys_.size());
  }
  return map_ids_[h] - 1;
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
  for (uint64_t i = b; i < e; ++i) {
    const uint32_t id = IdOf(src.keys[i]);
    Put(p, &id, 1);
  }
  Put(p, src.values.data() + b, nnz);
  if (has_fields_) Put(p, src.fields.data() + b, nnz);
  start_.push_back(size_);
}

void RowStore::Seal() {
  if (sealed_) return;
  sealed_ = true;
  std::vector<uint64_t>().swap(map_keys_);
  std::vector<uint32_t>().swap(map_ids_);
  // rank[arrival id] = position of its key in ascending order.
  std::vector<uint32_t> by_key(keys_.size());
  for (size_t i = 0; i < by_key.size(); ++i) by_key[i] = static_cast<uint32_t>(i);
  std::sort(by_key.begin(), by_key.end(),
            [&](uint32_t a, uint32_t b) { return keys_[a] < keys_[b]; });
  std::vector<uint32_t> rank(keys_.size());
  std::vector<uint64_t> sorted(keys_.size());
  for (size_t r = 0; r < by_key.size(); ++r) {
    rank[by_key[r]] = static_cast<uint32_t>(r);
    sorted[r] = keys_[by_key[r]];
  }
  keys_ = std::move(sorted);
  for (uint32_t row = 0; row < rows(); ++row) {
    unsigned char* p = data_.get() + start_[row] + kHeader;
    for (size_t j = 0; j < Nnz(row); ++j, p += sizeof(uint32_t)) {
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
