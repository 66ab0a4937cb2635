// KeyNumbering: numbers distinct uint64 keys 0, 1, 2, ... in order of first arrival, then
// ranks them in key order.
//
// One open-addressing map, kept at most half full, whose slot holds a key and its number
// (a lookup costs one cache line). It serves a batch's keys (data::UniqueKeys, cleared for
// every batch) and a worker's whole shard (data::RowStore, numbered once).
//
// Thread safety: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sparrow::data {

class KeyNumbering {
 public:
  // Forgets every key, with room for `expected` keys before the map grows.
  void Clear(size_t expected = 0);

  // The number of `key`, the next free one if the key is new. Fewer than 2^32 keys.
  uint32_t Number(uint64_t key) {
    if (2 * (keys_.size() + 1) > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    size_t h = Home(key, mask);
    while (slots_[h].generation == generation_ && slots_[h].key != key) h = (h + 1) & mask;
    if (slots_[h].generation != generation_) return Insert(key, h);
    return slots_[h].number;
  }
  // Hints the CPU to fetch `key`'s slot, for lookups done a few at a time.
  void Prefetch(uint64_t key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Home(key, slots_.size() - 1)]);
  }

  size_t size() const { return keys_.size(); }
  // The keys by number.
  const std::vector<uint64_t>& keys() const { return keys_; }

  // *sorted receives the keys in ascending order and (*rank)[number] each key's position
  // there. The numbering is unchanged.
  void Rank(std::vector<uint64_t>* sorted, std::vector<uint32_t>* rank);

 private:
  // A slot is taken when its generation is the map's: Clear() frees every slot by starting
  // a new generation instead of writing them all.
  struct Slot {
    uint64_t key;
    uint32_t number;
    uint32_t generation;
  };
  static size_t Home(uint64_t key, size_t mask) {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
  }
  void Grow();
  uint32_t Insert(uint64_t key, size_t slot) {
    const uint32_t number = static_cast<uint32_t>(keys_.size());
    if (number == kMaxKeys) TooManyKeys();
    keys_.push_back(key);
    slots_[slot] = Slot{key, number, generation_};
    return number;
  }
  static constexpr uint32_t kMaxKeys = ~0u;
  [[noreturn]] static void TooManyKeys();

  std::vector<Slot> slots_;  // a power of two in size, or empty
  uint32_t generation_ = 1;  // slots start at 0: free
  std::vector<uint64_t> keys_;
  // Rank's scratch, kept so that ranking every batch allocates nothing.
  std::vector<std::pair<uint64_t, uint32_t>> pairs_, buffer_;
  std::vector<uint32_t> bucket_start_;
};

}  // namespace sparrow::data
