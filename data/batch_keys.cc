#include "data/batch_keys.h"

#include <algorithm>
#include <utility>

namespace sparrow::data {
namespace {

// Per-thread scratch, kept across calls so steady state allocates nothing.
struct Scratch {
  std::vector<uint64_t> table_keys;
  std::vector<uint32_t> table_index;                    // kFree or the key's first-seen index
  std::vector<uint32_t> local;                          // first-seen index of each position
  std::vector<std::pair<uint64_t, uint32_t>> distinct;  // (key, first-seen index)
  std::vector<uint32_t> rank;                           // first-seen index -> position in `unique`
  std::vector<std::pair<uint64_t, uint32_t>> buffer;    // the bucket sort's output
  std::vector<uint32_t> bucket_start;                   // and its bucket offsets
};

constexpr uint32_t kFree = ~0u;

size_t TableSize(size_t n) {
  size_t t = 16;
  while (t < 2 * n) t <<= 1;
  return t;
}

// Sorts (key, index) pairs by key (keys are distinct). One bucket pass: a key's bucket
// is its position in the batch's [min, max] key range, scaled to about one bucket per
// key, so buckets come out in key order and hold a key or two each (keys are hashes,
// uniform over the range; narrow raw ids spread over their own range the same way); then
// each bucket is sorted in place. Two passes over the pairs instead of a radix sort's
// eight. A skewed batch that crowds some buckets still sorts them correctly, only
// slower. Small inputs go to std::sort.
void SortByKey(std::vector<std::pair<uint64_t, uint32_t>>* v,
               std::vector<std::pair<uint64_t, uint32_t>>* buffer,
               std::vector<uint32_t>* bucket_start) {
  const size_t n = v->size();
  if (n < 256) {
    std::sort(v->begin(), v->end());
    return;
  }
  uint64_t lo = ~0ull, hi = 0;
  for (const auto& p : *v) {
    lo = std::min(lo, p.first);
    hi = std::max(hi, p.first);
  }
  size_t buckets = 1;
  while (buckets < n) buckets <<= 1;
  int shift = 0;
  while (((hi - lo) >> shift) >= buckets) ++shift;
  std::vector<uint32_t>& start = *bucket_start;
  start.assign(buckets + 1, 0);
  for (const auto& p : *v) ++start[((p.first - lo) >> shift) + 1];
  for (size_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
  buffer->resize(n);
  for (const auto& p : *v) (*buffer)[start[(p.first - lo) >> shift]++] = p;
  // start[b] is now where bucket b + 1 begins.
  size_t begin = 0;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t end = start[b];
    if (end - begin > 1) std::sort(buffer->begin() + begin, buffer->begin() + end);
    begin = end;
  }
  v->swap(*buffer);
}

}  // namespace

// A popular feature appears in most rows, so a batch has far fewer distinct keys than
// non-zeros: dedupe through a hash table in O(nnz), then sort only the distinct keys.
void UniqueKeys(const Batch& batch, std::vector<uint64_t>* unique, std::vector<uint32_t>* slot) {
  thread_local Scratch s;
  const size_t n = batch.keys.size();
  const size_t size = TableSize(n), mask = size - 1;
  s.table_keys.resize(size);
  s.table_index.assign(size, kFree);
  s.local.resize(n);
  s.distinct.clear();
  for (size_t i = 0; i < n; ++i) {
    const uint64_t k = batch.keys[i];
    size_t h = static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 32) & mask;
    while (s.table_index[h] != kFree && s.table_keys[h] != k) h = (h + 1) & mask;
    if (s.table_index[h] == kFree) {
      s.table_keys[h] = k;
      s.table_index[h] = static_cast<uint32_t>(s.distinct.size());
      s.distinct.emplace_back(k, static_cast<uint32_t>(s.distinct.size()));
    }
    s.local[i] = s.table_index[h];
  }
  SortByKey(&s.distinct, &s.buffer, &s.bucket_start);
  unique->resize(s.distinct.size());
  s.rank.resize(s.distinct.size());
  for (size_t r = 0; r < s.distinct.size(); ++r) {
    (*unique)[r] = s.distinct[r].first;
    s.rank[s.distinct[r].second] = static_cast<uint32_t>(r);
  }
  if (slot == nullptr) return;
  slot->resize(n);
  for (size_t i = 0; i < n; ++i) (*slot)[i] = s.rank[s.local[i]];
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
