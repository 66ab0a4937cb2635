#include "data/batch_keys.h"

#include <algorithm>

#include "data/key_numbering.h"

namespace sparrow::data {

// A popular feature appears in most rows, so a batch has far fewer distinct keys than
// non-zeros: number them in O(nnz), then sort only the distinct keys.
void UniqueKeys(const Batch& batch, std::vector<uint64_t>* unique, std::vector<uint32_t>* slot) {
  // Per-thread scratch, kept across calls so steady state allocates nothing.
  struct Scratch {
    KeyNumbering numbering;
    std::vector<uint32_t> number;  // of each position's key
    std::vector<uint32_t> rank;    // number -> position in `unique`
  };
  thread_local Scratch s;
  const size_t n = batch.keys.size();
  s.numbering.Clear(n);
  s.number.resize(n);
  for (size_t i = 0; i < n; ++i) s.number[i] = s.numbering.Number(batch.keys[i]);
  s.numbering.Rank(unique, &s.rank);
  if (slot == nullptr) return;
  slot->resize(n);
  for (size_t i = 0; i < n; ++i) (*slot)[i] = s.rank[s.number[i]];
}

void UniqueIds(const uint32_t* ids, size_t n, uint32_t universe, std::vector<uint32_t>* unique,
               std::vector<uint32_t>* slot) {
  // Ids up to this many get a position table (4 bytes an id); beyond, slots are found by
  // binary search in the sorted unique ids.
  constexpr uint32_t kDirectUniverse = 1u << 22;
  struct IdScratch {
    std::vector<uint64_t> bits;  // all zero between calls
    std::vector<uint32_t> position;
  };
  thread_local IdScratch s;
  const size_t words = (static_cast<size_t>(universe) + 63) / 64;
  if (s.bits.size() < words) s.bits.resize(words, 0);
  uint64_t* bits = s.bits.data();
  unique->clear();
  if (words <= 8 * n) {
    for (size_t i = 0; i < n; ++i) bits[ids[i] >> 6] |= uint64_t{1} << (ids[i] & 63);
    for (size_t w = 0; w < words; ++w) {
      for (uint64_t x = bits[w]; x != 0; x &= x - 1) {
        unique->push_back(static_cast<uint32_t>(w * 64 + __builtin_ctzll(x)));
      }
      bits[w] = 0;
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      uint64_t& word = bits[ids[i] >> 6];
      const uint64_t bit = uint64_t{1} << (ids[i] & 63);
      if ((word & bit) == 0) unique->push_back(ids[i]);
      word |= bit;
    }
    for (uint32_t id : *unique) bits[id >> 6] = 0;
    std::sort(unique->begin(), unique->end());
  }
  slot->resize(n);
  if (universe <= kDirectUniverse) {
    if (s.position.size() < universe) s.position.resize(universe);
    for (size_t r = 0; r < unique->size(); ++r) s.position[(*unique)[r]] = static_cast<uint32_t>(r);
    for (size_t i = 0; i < n; ++i) (*slot)[i] = s.position[ids[i]];
  } else {
    for (size_t i = 0; i < n; ++i) {
      (*slot)[i] = static_cast<uint32_t>(std::lower_bound(unique->begin(), unique->end(), ids[i]) -
                                         unique->begin());
    }
  }
}

}  // namespace sparrow::data
