// Reading text files (LIBSVM, LIBFFM, CSV, Criteo; plain, gzip or zstd) into batches, in
// parallel: a oneTBB pipeline per file of
//   read chunk of whole lines (serial) -> parse (parallel) -> deliver in order (serial).
// Batches reach the sink in file order, one per chunk (about chunk_bytes of text each), so
// a read is deterministic whatever the thread count.
//
// Sharding: shard i of n reads, of each file, the lines starting in bytes
// [size*i/n, size*(i+1)/n) (data/line_chunker.h); a compressed file cannot be split by
// bytes, so there shard i keeps lines with index % n == i.
//
// Bad lines: each is `FILE:LINE: reason`. Up to spec.max_bad_lines() are skipped, counted
// in ReadStats and logged; the next one ends the read with its error.
//
// Thread safety: ReadText blocks its caller; the sink runs on one thread at a time, in
// order, and must not keep references into the batch after returning.
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

// Which rows of a spec's `split` to read. A spec without a split has no parts: kTrain and
// kTest then both read every row (a caller with separate test files reads those instead).
enum class SplitPart { kAll = 0, kTrain = 1, kTest = 2 };

struct ReadOptions {
  int threads = 1;  // parsing threads (oneTBB arena size)
  uint32_t shard = 0;
  uint32_t num_shards = 1;
  SplitPart part = SplitPart::kAll;  // kAll ignores the spec's split
  size_t chunk_bytes = 128 << 10;
};

struct ReadStats {
  uint64_t rows = 0;
  uint64_t bytes = 0;      // text bytes parsed (decompressed)
  uint64_t bad_lines = 0;  // skipped under max_bad_lines
  std::string first_bad;   // `FILE:LINE: reason` of the first skipped line
};

using BatchSink = std::function<Status(const Batch&)>;

struct PipelineSlot;

// A reader that keeps its buffers (chunks, batches) and thread arena between reads, so
// reading the same files every epoch allocates nothing after the first pass.
class TextReader {
 public:
  // `data` and `features` must outlive the reader.
  TextReader(const DataSpec& data, const FeatureSpec& features, const ReadOptions& options);
  ~TextReader();

  // Reads `files` in order under `features` (resolved; data/feature_spec.h), with the row
  // selection (split) and limits (max_bad_lines) of `data`. Stats accumulate into *stats
  // (may be null).
  Status Read(const std::vector<std::string>& files, const BatchSink& sink, ReadStats* stats);

 private:
  Status ReadFile(const std::string& path, const BatchSink& sink, ReadStats* stats);

  const DataSpec& data_;
  const FeatureSpec& features_;
  ReadOptions options_;
  std::vector<std::unique_ptr<PipelineSlot>> ring_;
  std::unique_ptr<tbb::task_arena> arena_;
};

// One-shot TextReader(data, features, options).Read(files, sink, stats).
Status ReadText(const DataSpec& data, const FeatureSpec& features,
                const std::vector<std::string>& files, const ReadOptions& options,
                const BatchSink& sink, ReadStats* stats);

}  // namespace sparrow::data
