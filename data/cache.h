// The binary cache: batches stored as raw little-endian arrays, for re-reads many times
// faster than parsing text. `sparrow convert` writes it; training reads it every epoch.
//
// Layout (all integers little-endian):
//   preamble   "SPRWCACH" | u32 version (1) | u32 header_bytes | u64 spec fingerprint
//              | CacheHeader (proto: the resolved FeatureSpec, the source files with size
//              and mtime) | u32 CRC32C of everything before it
//   blocks     u32 "BLK1" | u32 rows | u64 nnz | u32 flags | u32 payload CRC32C
//              | u32 CRC32C of the previous 24 bytes | u32 0
//              payload: labels f32[rows] | weights f32[rows] | offsets f32[rows]
//                       | row_offsets u64[rows+1] | keys u64[nnz]
//                       | values f32[nnz] unless flag ALL_ONES | fields u32[nnz] if FIELDS
//   index      u64 block offset [nblocks] | u64 rows per block [nblocks]
//   trailer    u64 index offset | u64 nblocks | u32 index CRC32C | u32 "SPRE"
//
// A reader checks the version, the spec fingerprint against what it expects (a cache made
// under another spec is "stale"), the source files' size and mtime (changed sources make
// it stale), and every CRC; any mismatch is an error naming the file and what to do.
//
// Thread safety: a writer is used by one thread; ReadCache blocks its caller and calls
// the sink on one thread at a time, in order.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "proto/data.pb.h"

namespace sparrow::data {

inline constexpr uint32_t kCacheVersion = 1;

class CacheWriter {
 public:
  // Creates `path` (written as path.tmp, renamed by Finish). `sources` are recorded with
  // their current size and mtime.
  static Result<std::unique_ptr<CacheWriter>> Create(const std::string& path,
                                                     const FeatureSpec& spec,
                                                     const std::vector<std::string>& sources,
                                                     size_t block_bytes = 2 << 20);
  ~CacheWriter();

  // Appends the rows of `batch`; full blocks are written as they fill.
  Status Append(const Batch& batch);
  // Writes the last block, the index and trailer, fsyncs and renames into place.
  Status Finish();

  uint64_t rows() const { return rows_; }

 private:
  CacheWriter() = default;
  Status WriteBlock();
  Status Write(const void* p, size_t n);

  std::string path_, tmp_;
  int fd_ = -1;
  size_t block_bytes_ = 0;
  Batch pending_;
  uint64_t offset_ = 0;
  uint64_t rows_ = 0;
  std::vector<uint64_t> block_offsets_, block_rows_;
  std::string payload_;
};

struct CacheReadOptions {
  int threads = 1;
  uint32_t shard = 0;  // blocks b with b % num_shards == shard
  uint32_t num_shards = 1;
  // Block order: file order when shuffle is false; else a permutation drawn from
  // (shuffle_seed, epoch), and rows within each block permuted too.
  bool shuffle = false;
  uint64_t shuffle_seed = 1;
  uint64_t epoch = 0;
  // Reject the cache if a source file's size or mtime changed since it was written.
  bool check_sources = true;
};

struct CacheStats {
  uint64_t rows = 0;
  uint64_t bytes = 0;  // cache bytes read
  uint64_t blocks = 0;
};

// Reads the header of the cache at `path`.
Result<CacheHeader> ReadCacheHeader(const std::string& path);

struct CacheSlot;

// Reads caches, keeping its buffers and threads from read to read, so that an epoch
// allocates nothing after the first.
class CacheReader {
 public:
  CacheReader();
  ~CacheReader();
  // Reads the cache at `path`. If `expect` is not null its fingerprint must match the
  // cache's. Batches (one per block) reach `sink` in the options' block order.
  Status Read(const std::string& path, const FeatureSpec* expect, const CacheReadOptions& options,
              const std::function<Status(const Batch&)>& sink, CacheStats* stats);

 private:
  int threads_ = 0;
  std::unique_ptr<tbb::task_arena> arena_;
  std::vector<std::unique_ptr<CacheSlot>> ring_;
};

// One-shot CacheReader().Read(...).
Status ReadCache(const std::string& path, const FeatureSpec* expect,
                 const CacheReadOptions& options, const std::function<Status(const Batch&)>& sink,
                 CacheStats* stats);

// Decodes one block (header + payload at [p, p + n)) into *out; for the reader and the
// fuzzer. Requires nothing of the bytes: every inconsistency is a DataLoss error.
Status DecodeCacheBlock(const char* p, size_t n, bool has_fields, Batch* out);

}  // namespace sparrow::data
