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
  std::vector<std::pair<uint64_t, uint32_t>> buffer;    // radix sort's other half
};

constexpr uint32_t kFree = ~0u;

size_t TableSize(size_t n) {
  size_t t = 16;
  while (t < 2 * n) t <<= 1;
  return t;
}

// Sorts (key, index) pairs by key (keys are distinct). LSD radix sort on bytes: keys are
// hashes, so a comparison sort's log n factor is pure cost; a byte that every key shares
// (narrow raw ids) skips its pass. Small inputs go to std::sort.
void SortByKey(std::vector<std::pair<uint64_t, uint32_t>>* v,
               std::vector<std::pair<uint64_t, uint32_t>>* buffer) {
  const size_t n = v->size();
  if (n < 256) {
    std::sort(v->begin(), v->end());
    return;
  }
  buffer->resize(n);
  auto* src = v;
  auto* dst = buffer;
  size_t count[8][256] = {};
  for (const auto& p : *v) {
    for (int b = 0; b < 8; ++b) ++count[b][(p.first >> (8 * b)) & 0xff];
  }
  for (int b = 0; b < 8; ++b) {
    if (count[b][((*v)[0].first >> (8 * b)) & 0xff] == n) continue;  // one value: no-op pass
    size_t offset[256];
    size_t sum = 0;
    for (int d = 0; d < 256; ++d) {
      offset[d] = sum;
      sum += count[b][d];
    }
    for (const auto& p : *src) (*dst)[offset[(p.first >> (8 * b)) & 0xff]++] = p;
    std::swap(src, dst);
  }
  if (src != v) v->swap(*buffer);
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
  SortByKey(&s.distinct, &s.buffer);
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

}  // namespace sparrow::data
