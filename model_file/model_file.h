// The model file: everything needed to score — header and non-zero rows — in one file.
//
// Layout (little-endian):
//   8 bytes   magic "SPRWMODL"
//   u32       format version (kModelFormatVersion)
//   u32       header length H
//   H bytes   ModelHeader (proto/model.proto): kind, objective, k, feature spec, bias,
//             tables with their widths and row counts
//   rows      for each table in header order, `rows` records of
//             [u64 key | width x f32 weights], keys ascending
//   u32       CRC32C of every byte from the format version through the last row
// Optimizer state is left out (a checkpoint keeps it). Writers write to PATH.tmp-<pid>,
// fsync, and rename, so a reader sees the old file or the new one, never half of one.
//
// Thread safety: free functions; a ModelWriter belongs to one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/model.pb.h"

namespace sparrow::model_file {

inline constexpr char kMagic[8] = {'S', 'P', 'R', 'W', 'M', 'O', 'D', 'L'};
inline constexpr uint32_t kModelFormatVersion = 1;

// Writes a model file table by table. Usage: Open, then for each table in header order
// Append its rows (keys ascending across calls), then Commit. Dropping a writer without
// Commit removes the temporary file and leaves any existing file at `path` untouched.
class ModelWriter {
 public:
  ~ModelWriter();
  // `header.tables` gives each table's width and row count up front.
  static Result<std::unique_ptr<ModelWriter>> Open(const std::string& path,
                                                   const model::ModelHeader& header);
  // Appends `n` rows: keys[i] with weights[i*width .. (i+1)*width).
  Status Append(const uint64_t* keys, const float* weights, size_t n);
  // Checks every table got its rows, writes the CRC, fsyncs, renames into place.
  Status Commit();

 private:
  ModelWriter() = default;
  // Appends to buf_; full buffers go to the file. Bytes from `crc_from_` on are CRC'd.
  Status Write(const void* p, size_t n);
  // CRCs and writes out what buf_ holds.
  Status Flush();

  std::string path_, tmp_;
  int fd_ = -1;
  // Rows are ~10-300 bytes: one write(2) and one CRC call per MiB, not per row, keeps a
  // save of millions of rows from being syscall- and call-bound.
  std::vector<char> buf_;
  size_t crc_from_ = 0;  // the magic is outside the CRC
  uint32_t crc_ = 0;
  model::ModelHeader header_;
  size_t table_ = 0;      // table being written
  uint64_t written_ = 0;  // rows of that table so far
  uint64_t last_key_ = 0;
};

// A model read into memory: header plus each table's rows, keys ascending.
struct ModelData {
  model::ModelHeader header;
  struct Table {
    uint32_t width = 0;
    std::vector<uint64_t> keys;
    std::vector<float> weights;  // keys.size() x width
  };
  std::vector<Table> tables;
};

// Reads a model file a chunk of rows at a time, in memory of one chunk whatever the
// model's size: for merging and copying models larger than memory. Usage: Open, then
// Next until it returns 0 rows for the last table, then Finish (which verifies the CRC;
// rows read before it are trustworthy only once it succeeds).
class ModelReader {
 public:
  ~ModelReader();
  // Opens `path` and reads its header (magic and version checked).
  static Result<std::unique_ptr<ModelReader>> Open(const std::string& path);
  const model::ModelHeader& header() const { return header_; }
  // The table the next rows come from (header().tables(table())); equals tables_size()
  // once every row is read.
  size_t table() const { return table_; }
  // Reads up to `max_rows` (> 0) rows of the current table into *keys and *weights
  // (replacing their contents; weights: rows x width). Returns 0 at the end of a table,
  // after which the next call reads the next table. Keys are checked to ascend.
  Result<size_t> Next(size_t max_rows, std::vector<uint64_t>* keys, std::vector<float>* weights);
  // After every table's rows: checks the CRC and that nothing follows it.
  Status Finish();

 private:
  ModelReader() = default;

  std::string path_;
  FILE* f_ = nullptr;
  model::ModelHeader header_;
  uint32_t crc_ = 0;
  size_t table_ = 0;
  uint64_t left_ = 0;  // rows of table_ not yet read
  uint64_t last_key_ = 0;
  std::vector<char> buf_;
};

// Reads and verifies a model file: magic, version, header, row counts, key order, CRC.
// A truncated or corrupt file is DataLoss naming the path and what is wrong.
Result<ModelData> ReadModel(const std::string& path);
// Reads only the header (cheap; does not verify the CRC).
Result<model::ModelHeader> ReadModelHeader(const std::string& path);

}  // namespace sparrow::model_file
