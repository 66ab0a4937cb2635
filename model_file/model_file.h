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

// Reads and verifies a model file: magic, version, header, row counts, key order, CRC.
// A truncated or corrupt file is DataLoss naming the path and what is wrong.
Result<ModelData> ReadModel(const std::string& path);
// Reads only the header (cheap; does not verify the CRC).
Result<model::ModelHeader> ReadModelHeader(const std::string& path);

}  // namespace sparrow::model_file
