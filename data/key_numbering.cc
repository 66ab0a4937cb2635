#include "data/key_numbering.h"

#include <glog/logging.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace sparrow::data {
namespace {

constexpr size_t kMinSlots = 16;

size_t SlotsFor(size_t keys) {
  size_t n = kMinSlots;
  while (n < 2 * keys) n <<= 1;
  return n;
}

// Sorts (key, number) pairs by key (keys are distinct). One bucket pass: a key's bucket
// is its position in the [min, max] key range, scaled to about one bucket per key, so
// buckets come out in key order and hold a key or two each (keys are hashes, uniform
// over the range; narrow raw ids spread over their own range the same way); then each
// bucket is sorted in place. Two passes over the pairs instead of a radix sort's eight. A
// skewed set that crowds some buckets still sorts correctly, only slower. Small inputs go
// to std::sort.
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

void KeyNumbering::Clear(size_t expected) {
  keys_.clear();
  const size_t n = SlotsFor(expected);
  if (slots_.size() != n || generation_ == std::numeric_limits<uint32_t>::max()) {
    slots_.assign(n, Slot{0, 0, 0});
    generation_ = 1;
  } else {
    ++generation_;
  }
}

void KeyNumbering::Grow() {
  std::vector<Slot> old(std::max(kMinSlots, 2 * slots_.size()), Slot{0, 0, 0});
  old.swap(slots_);
  const uint32_t taken = generation_;
  generation_ = 1;
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.generation != taken) continue;
    size_t h = Home(s.key, mask);
    while (slots_[h].generation == generation_) h = (h + 1) & mask;
    slots_[h] = Slot{s.key, s.number, generation_};
  }
}

void KeyNumbering::TooManyKeys() {
  LOG(FATAL) << "a key numbering holds fewer than 2^32 keys";
}

void KeyNumbering::Rank(std::vector<uint64_t>* sorted, std::vector<uint32_t>* rank) {
  pairs_.resize(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) pairs_[i] = {keys_[i], static_cast<uint32_t>(i)};
  SortByKey(&pairs_, &buffer_, &bucket_start_);
  sorted->resize(pairs_.size());
  rank->resize(pairs_.size());
  for (size_t r = 0; r < pairs_.size(); ++r) {
    (*sorted)[r] = pairs_[r].first;
    (*rank)[pairs_[r].second] = static_cast<uint32_t>(r);
  }
}

}  // namespace sparrow::data
