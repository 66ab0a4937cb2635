// RowStore: a worker's training rows, packed so that gathering rows in random order is cheap.
//
// Training visits its rows in a fresh random order every epoch and copies each
// minibatch's rows into a Batch. Kept as the reader's batches (an array per column), one
// row costs a cache miss in each of six arrays; here a row is one record, so a few
// adjacent cache lines, and Gather prefetches the records of later rows while it copies.
// (talkingdata: 512 random rows of 8 non-zeros, the largest part of a worker's step before
// this.)
//
// Record of a row, at byte start_[row]: u32 nnz | f32 label | f32 weight | f32 offset |
// u64 keys[nnz] | f32 values[nnz] | u32 fields[nnz] (fields only if has_fields). The
// records live in one buffer on huge pages (core/large_buffer.h): packing fremtpl's 95 MB
// on 4 KiB pages cost 0.7 s of page faults.
//
// Thread safety: Append on one thread; then Gather from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/large_buffer.h"
#include "data/batch.h"

namespace sparrow::data {

class RowStore {
 public:
  explicit RowStore(bool has_fields = false) : has_fields_(has_fields) {}

  // Makes room for `rows` more rows of `nnz` non-zeros in all, so appending them
  // allocates once.
  void Reserve(size_t rows, size_t nnz);
  // Appends row r of `src`, whose has_fields must match the store's.
  void Append(const Batch& src, size_t r);

  size_t rows() const { return start_.size() - 1; }
  bool has_fields() const { return has_fields_; }
  // Bytes held (records and the index).
  size_t bytes() const { return capacity_ + start_.capacity() * sizeof(uint64_t); }

  // Replaces *out's contents with rows[0 .. n) of this store, in that order (each < rows()).
  // *out's capacity is reused.
  void Gather(const uint32_t* rows, size_t n, Batch* out) const;

 private:
  size_t Nnz(uint32_t row) const {
    return (start_[row + 1] - start_[row] - kHeader) / (has_fields_ ? 16 : 12);
  }
  static constexpr size_t kHeader = 16;
  size_t RecordBytes(size_t nnz) const { return kHeader + nnz * (has_fields_ ? 16 : 12); }
  // Moves the records into a buffer of at least `bytes` bytes.
  void Grow(size_t bytes);

  bool has_fields_;
  LargeBuffer<unsigned char> data_;
  size_t size_ = 0, capacity_ = 0;  // bytes of data_ used and held
  std::vector<uint64_t> start_{0};  // rows() + 1 entries
};

}  // namespace sparrow::data
