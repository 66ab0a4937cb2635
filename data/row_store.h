// RowStore: a worker's training rows, packed so that gathering rows in random order is cheap.
//
// Training visits its rows in a fresh random order every epoch and copies each
// minibatch's rows into a Batch. Kept as the reader's batches (an array per column), one
// row costs a cache miss in each of six arrays; here a row is one record, so a few
// adjacent cache lines, and Gather prefetches the records of later rows while it copies.
// (talkingdata: 512 random rows of 8 non-zeros, the largest part of a worker's step before
// this.)
//
// Key ids. A record holds each key as a 4-byte id: the key's rank among the store's
// distinct keys, so ids are dense, [0, keys().size()), and ordered as the keys are. A
// minibatch's keys are then deduplicated with a bitmap over the ids instead of a hash
// table, and sorted by the same pass (data::UniqueIds), and a record is 4 bytes a
// non-zero smaller. Ids are numbered as keys arrive (data/key_numbering.h) and renumbered
// in key order by Seal().
//
// Record of a row, at byte start_[row]: u32 nnz | f32 label | f32 weight | f32 offset |
// u32 ids[nnz] | f32 values[nnz] | u32 fields[nnz] (fields only if has_fields). The
// records live in one buffer on huge pages (core/large_buffer.h): packing fremtpl's 95 MB
// on 4 KiB pages cost 0.7 s of page faults.
//
// Thread safety: Append and Seal from one thread at a time (calls ordered by the caller);
// then Gather from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/large_buffer.h"
#include "data/batch.h"
#include "data/key_numbering.h"

namespace sparrow::data {

class RowStore {
 public:
  explicit RowStore(bool has_fields = false) : has_fields_(has_fields) {}

  // Makes room for `rows` more rows of `nnz` non-zeros in all, so appending them
  // allocates once.
  void Reserve(size_t rows, size_t nnz);
  // Appends row r of `src`, whose has_fields must match the store's. Before Seal() only.
  // A store holds fewer than 2^32 distinct keys.
  void Append(const Batch& src, size_t r);
  // Ends appending: renumbers the ids in key order (one pass over the records) and
  // releases the key-to-id map. Required before Gather.
  void Seal();

  size_t rows() const { return start_.size() - 1; }
  bool has_fields() const { return has_fields_; }
  // The distinct keys in ascending order: keys()[id] is the key of `id`. After Seal().
  const std::vector<uint64_t>& keys() const { return keys_; }
  // Bytes held (records, the index and the keys).
  size_t bytes() const {
    return capacity_ + start_.capacity() * sizeof(uint64_t) + keys_.capacity() * sizeof(uint64_t);
  }

  // Replaces *out's contents with rows[0 .. n) of this store, in that order (each < rows()),
  // except the keys: out->keys is left empty and *ids receives each non-zero's key id
  // (so out->nnz() is 0; ids->size() is the true count). Capacity is reused. After Seal().
  void Gather(const uint32_t* rows, size_t n, Batch* out, std::vector<uint32_t>* ids) const;

 private:
  size_t Nnz(uint32_t row) const {
    return (start_[row + 1] - start_[row] - kHeader) / NonZeroBytes();
  }
  static constexpr size_t kHeader = 16;
  size_t NonZeroBytes() const { return has_fields_ ? 12 : 8; }
  size_t RecordBytes(size_t nnz) const { return kHeader + nnz * NonZeroBytes(); }
  // Moves the records into a buffer of at least `bytes` bytes.
  void Grow(size_t bytes);

  bool has_fields_;
  bool sealed_ = false;
  LargeBuffer<unsigned char> data_;
  size_t size_ = 0, capacity_ = 0;  // bytes of data_ used and held
  std::vector<uint64_t> start_{0};  // rows() + 1 entries
  KeyNumbering ids_;                // key -> id in arrival order, until Seal
  std::vector<uint64_t> keys_;      // by id, ascending: from Seal on
};

}  // namespace sparrow::data
