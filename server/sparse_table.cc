#include "server/sparse_table.h"

#include <algorithm>
#include <cmath>

namespace sparrow::server {
namespace {
constexpr double kMaxLoad = 0.85;
constexpr double kGrowth = 1.25;
constexpr size_t kMinCapacity = 16;
}  // namespace

SparseTable::SparseTable(uint32_t row_floats, size_t expected_keys, uint64_t key_begin,
                         uint64_t key_end)
    : row_floats_(row_floats),
      stride_(2 + row_floats),
      max_key_row_(row_floats),
      key_begin_(key_begin),
      key_span_(static_cast<unsigned __int128>(key_end - key_begin) + 1) {
  Rehash(std::max(kMinCapacity, static_cast<size_t>(std::ceil(expected_keys / kMaxLoad))));
}

size_t SparseTable::bytes() const {
  return capacity_ * stride_ * sizeof(uint32_t) + sizeof(*this) +
         max_key_row_.capacity() * sizeof(float);
}

float* SparseTable::FindOrInsert(uint64_t key, bool* inserted) {
  if (key == kEmpty) {
    *inserted = !has_max_key_;
    has_max_key_ = true;
    return max_key_row_.data();
  }
  size_t i = Home(key);
  for (size_t probe = 0;; ++probe) {
    uint32_t* s = slots_.get() + i * stride_;
    const uint64_t k = KeyAt(s);
    if (k == key) {
      *inserted = false;
      return reinterpret_cast<float*>(s + 2);
    }
    if (k == kEmpty) break;
    if (probe > kMaxProbe && !mixed_) {
      mixed_ = true;
      Rehash(capacity_);
      return FindOrInsert(key, inserted);
    }
    if (++i == capacity_) i = 0;
  }
  if (size_ + 1 > grow_at_) {
    Rehash(static_cast<size_t>(capacity_ * kGrowth) + 1);
    return FindOrInsert(key, inserted);
  }
  uint32_t* s = slots_.get() + i * stride_;
  std::memcpy(s, &key, sizeof(key));
  ++size_;
  *inserted = true;
  return reinterpret_cast<float*>(s + 2);
}

void SparseTable::Reserve(size_t keys) {
  const size_t want = static_cast<size_t>(std::ceil(keys / kMaxLoad));
  if (want > capacity_) Rehash(want);
}

void SparseTable::ReserveFor(const uint64_t* keys, size_t n) {
  if (size_ + n <= grow_at_) return;
  size_t missing = 0;
  for (size_t i = 0; i < n; ++i) missing += Find(keys[i]) == nullptr;
  if (size_ + missing > grow_at_) {
    Reserve(std::max<size_t>(size_ + missing, static_cast<size_t>(capacity_ * kGrowth)));
  }
}

void SparseTable::Rehash(size_t new_capacity) {
  auto old = std::move(slots_);
  const size_t old_capacity = capacity_;
  capacity_ = new_capacity;
  grow_at_ = static_cast<size_t>(capacity_ * kMaxLoad);
  // A range narrower than the arena cannot be spread by scaling: scatter instead.
  if (key_span_ <= capacity_) mixed_ = true;
  if (!mixed_) {
    scale_ = static_cast<uint64_t>((static_cast<unsigned __int128>(capacity_) << 64) / key_span_);
  }
  slots_ = MakeLargeBuffer<uint32_t>(capacity_ * stride_);
  for (size_t i = 0; i < capacity_; ++i) std::memcpy(slots_.get() + i * stride_, &kEmpty, 8);
  for (size_t j = 0; j < old_capacity; ++j) {
    const uint32_t* src = old.get() + j * stride_;
    const uint64_t k = KeyAt(src);
    if (k == kEmpty) continue;
    size_t i = Home(k);
    while (KeyAt(slots_.get() + i * stride_) != kEmpty) {
      if (++i == capacity_) i = 0;
    }
    std::memcpy(slots_.get() + i * stride_, src, stride_ * sizeof(uint32_t));
  }
}

}  // namespace sparrow::server
