// ShuffleBuffer: seeded shuffling of a row stream through a bounded window, and cutting
// the stream into batches of exactly `batch_rows` rows (the last may be shorter).
//
// Why: files are often ordered by time or by label (freMTPL2freq's first 9,387 rows all
// have claims); SGD in that order learns the wrong thing. A full shuffle needs the whole
// file; this one holds `window` rows. When the window is full, it is permuted and half of
// it goes out; the other half stays, so a row can stay for several rounds and rows mix
// across rounds (like TensorFlow's shuffle buffer, but copying rows in bulk rather than
// one at a time). window 0 only re-batches, in order.
//
// Memory: about 2 x window rows. Steady state allocates nothing.
// Thread safety: one thread (the reader's sink).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "data/text_reader.h"

namespace sparrow::data {

class ShuffleBuffer {
 public:
  ShuffleBuffer(size_t window, uint64_t seed, size_t batch_rows);

  // Takes the rows of `in`; calls emit with each batch that fills.
  Status Add(const Batch& in, const BatchSink& emit);
  // Sends everything still held (permuted), then the last short batch.
  Status Flush(const BatchSink& emit);

 private:
  Status Drain(size_t keep, const BatchSink& emit);  // sends rows until `keep` remain
  Status Emit(const Batch& src, size_t row, const BatchSink& emit);

  size_t window_;
  size_t batch_rows_;
  std::mt19937_64 rng_;
  Batch pool_, rest_, out_;
  std::vector<uint32_t> perm_;
};

}  // namespace sparrow::data
