// SparseTable: uint64 key -> fixed-width row of floats, in one flat open-addressing arena.
//
// Each slot is [key (8 bytes) | row (row_floats x 4 bytes)], stored inline, so a lookup
// touches one place in memory; there is no node per key. Linear probing over a capacity
// of any size, grown by 1.25x past a load of 0.85: a full table costs between 1.0/0.85
// and 1.25/0.85 slots per key. For FTRL with width 1 (8-byte row) that is 18.8 to 23.5
// bytes per key, everything included.
//
// Order-preserving placement. Keys are hashes, uniform over the table's key range, so a
// key's home slot is its position in that range scaled to the capacity: slots follow key
// order. A request's keys arrive sorted, so a batched lookup sweeps the arena front to
// back like a merge, and the hardware prefetcher hides DRAM latency instead of every key
// paying a miss. Keys that are not uniform (raw ids 1, 2, 3...) would pile up in a few
// slots; the first probe sequence longer than kMaxProbe switches the table, once, to
// mixed (scattered) placement, which is robust to any key distribution.
//
// Thread safety: none; one thread owns a table (the server's design keeps it that way).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "core/large_buffer.h"

namespace sparrow::server {

class SparseTable {
 public:
  // `row_floats` > 0. `expected_keys` sizes the arena up front (0: start small and grow).
  // Keys are expected in [key_begin, key_end] (the owning server's range); others work
  // too, only slower until the table switches to mixed placement.
  explicit SparseTable(uint32_t row_floats, size_t expected_keys = 0, uint64_t key_begin = 0,
                       uint64_t key_end = ~0ull);

  // The row of `key`, or nullptr. Valid until the next insertion. Inline: the store's
  // batched loops call it once per key.
  const float* Find(uint64_t key) const {
    if (key == kEmpty) return has_max_key_ ? max_key_row_.data() : nullptr;
    size_t i = Home(key);
    for (;;) {
      const uint32_t* s = slots_.get() + i * stride_;
      const uint64_t k = KeyAt(s);
      if (k == key) return reinterpret_cast<const float*>(s + 2);
      if (k == kEmpty) return nullptr;
      if (++i == capacity_) i = 0;
    }
  }
  float* FindMutable(uint64_t key) { return const_cast<float*>(Find(key)); }
  // The row of `key`; a new row is left uninitialised and *inserted set to true.
  // Valid until the next insertion.
  float* FindOrInsert(uint64_t key, bool* inserted);

  // Hints the CPU to bring `key`'s home slot into cache; for batched lookups.
  void Prefetch(uint64_t key) const { __builtin_prefetch(slots_.get() + Home(key) * stride_); }

  // Makes room for `keys` keys without further growth.
  void Reserve(size_t keys);
  // Makes room for every key of `keys` that is not yet stored, so inserting them grows the
  // arena at most once, before the first insertion. Placement follows key order, so a
  // batch of sorted new keys inserted into a table that grows half-way would crowd the
  // low end of the arena (sized for the keys so far, which are all low); sizing for the
  // whole batch first keeps every region at the table's load. Costs one lookup sweep, and
  // only when the batch could make the table grow.
  void ReserveFor(const uint64_t* keys, size_t n);
  // True when the next insertion would grow the arena.
  bool Full() const { return size_ >= grow_at_; }

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
    if (!mixed_) {
      // Position in the range, scaled: monotone in the key. Keys outside the range map
      // to some slot too (the subtraction wraps); only speed suffers.
      const size_t h =
          static_cast<size_t>((static_cast<unsigned __int128>(key - key_begin_) * scale_) >> 64);
      return h < capacity_ ? h : h % capacity_;
    }
    uint64_t x = key * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return static_cast<size_t>((static_cast<unsigned __int128>(x) * capacity_) >> 64);
  }
  void Rehash(size_t new_capacity);
  // A probe this long means the keys are not uniform over the range.
  static constexpr size_t kMaxProbe = 256;

  uint32_t row_floats_;
  uint32_t stride_;  // 32-bit words per slot
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t grow_at_ = 0;
  LargeBuffer<uint32_t> slots_;  // on huge pages: see core/large_buffer.h
  bool has_max_key_ = false;
  std::vector<float> max_key_row_;
  uint64_t key_begin_;
  unsigned __int128 key_span_;  // key_end - key_begin + 1; up to 2^64
  uint64_t scale_ = 0;          // floor(capacity * 2^64 / key_span)
  bool mixed_ = false;
};

}  // namespace sparrow::server
