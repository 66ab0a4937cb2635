// An estimate of how many distinct keys a stream holds, in 4 KiB whatever its length.
//
// A worker counts the keys of its shard while it loads, and tells the servers: a table
// sized for its keys up front never rehashes while the first epoch inserts them (growing
// by 1.25x from empty moves every row about four times). A hint, so an estimate is
// enough: HyperLogLog with 4096 registers, standard error 1.6%, with linear counting for
// small sets (within a few keys below ~1000).
//
// Thread safety: none; one counter per thread, then Merge.
#pragma once

#include <array>
#include <cstdint>

namespace sparrow::data {

class DistinctKeys {
 public:
  void Add(uint64_t key) {
    // Keys are feature hashes, but integer ids and the bias key are not: mix first.
    uint64_t h = key + 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    const uint32_t reg = static_cast<uint32_t>(h >> (64 - kBits));
    // Rank of the first one bit in the remaining 52 bits (the sentinel bounds it at 53).
    const uint64_t rest = (h << kBits) | (uint64_t{1} << (kBits - 1));
    const auto rank = static_cast<uint8_t>(__builtin_clzll(rest) + 1);
    if (rank > registers_[reg]) registers_[reg] = rank;
  }
  // Afterwards this counts the union of both streams.
  void Merge(const DistinctKeys& other);
  // The estimated number of distinct keys added (0 for none).
  uint64_t Estimate() const;

 private:
  static constexpr int kBits = 12;
  std::array<uint8_t, 1u << kBits> registers_{};
};

}  // namespace sparrow::data
