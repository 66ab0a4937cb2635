// SparseTable: uint64 key -> fixed-width row of floats, in one flat open-addressing arena.
//
// Each slot is [key (8 bytes) | row (row_floats x 4 bytes)], stored inline, so a lookup
// touches one place in memory; there is no node per key. Linear probing over a capacity
// of any size (slot = high bits of mix(key) x capacity), grown by 1.25x past a load of
// 0.85: a full table costs between 1.0/0.85 and 1.25/0.85 slots per key. For FTRL with
// width 1 (8-byte row) that is 18.8 to 23.5 bytes per key, everything included.
//
// Thread safety: none; one thread owns a table (the server's design keeps it that way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace sparrow::server {

class SparseTable {
 public:
  // `row_floats` > 0. `expected_keys` sizes the arena up front (0: start small and grow).
  explicit SparseTable(uint32_t row_floats, size_t expected_keys = 0);

  // The row of `key`, or nullptr. Valid until the next insertion.
  const float* Find(uint64_t key) const;
  // The row of `key`; a new row is left uninitialised and *inserted set to true.
  // Valid until the next insertion.
  float* FindOrInsert(uint64_t key, bool* inserted);

  // Hints the CPU to bring `key`'s home slot into cache; for batched lookups.
  void Prefetch(uint64_t key) const { __builtin_prefetch(slots_.get() + Home(key) * stride_); }

  // Makes room for `keys` keys without further growth.
  void Reserve(size_t keys);

  size_t size() const { return size_ + (has_max_key_ ? 1 : 0); }
  size_t capacity() const { return capacity_; }
  uint32_t row_floats() const { return row_floats_; }
  // Bytes this table holds: the arena plus the object itself.
  size_t bytes() const;

  // Calls f(key, const float* row) for every key, in no particular order.
  template <typename F>
  void ForEach(F f) const {
    for (size_t i = 0; i < capacity_; ++i) {
      const uint32_t* s = slots_.get() + i * stride_;
      const uint64_t k = KeyAt(s);
      if (k != kEmpty) f(k, reinterpret_cast<const float*>(s + 2));
    }
    if (has_max_key_) f(kEmpty, max_key_row_.data());
  }

 private:
  // The all-ones key marks an empty slot; that key itself lives in max_key_row_.
  static constexpr uint64_t kEmpty = ~0ull;

  static uint64_t KeyAt(const uint32_t* slot) {
    uint64_t k;
    std::memcpy(&k, slot, sizeof(k));
    return k;
  }
  size_t Home(uint64_t key) const {
    // Keys are usually hashes already, but raw ids (1, 2, 3, ...) must spread too.
    uint64_t x = key * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return static_cast<size_t>((static_cast<unsigned __int128>(x) * capacity_) >> 64);
  }
  void Rehash(size_t new_capacity);

  uint32_t row_floats_;
  uint32_t stride_;  // 32-bit words per slot
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t grow_at_ = 0;
  std::unique_ptr<uint32_t[]> slots_;
  bool has_max_key_ = false;
  std::vector<float> max_key_row_;
};

}  // namespace sparrow::server
