// LineParser: turns a chunk of whole lines into rows of a Batch. One implementation per
// text format (LIBSVM, LIBFFM, CSV/Criteo); the pipeline (data/text_reader.h) runs one
// parser on many chunks at once.
//
// A malformed line becomes a BadLine (its index within the chunk and a reason such as
// "bad value 'x1' for index 7"); the line adds no row, and nothing of it stays in the
// batch. The reader turns BadLines into `FILE:LINE: reason` errors or counted skips.
//
// Thread safety: Parse() is const and called concurrently on different chunks.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "data/batch.h"

namespace sparrow::data {

inline constexpr uint64_t kUnknownLine = UINT64_MAX;

// Which lines of a chunk become rows, besides being well formed.
struct LineFilter {
  // Absolute 0-based index of the chunk's first line in its file, or kUnknownLine when
  // the chunk comes from a byte-range shard that has not counted its prefix (allowed only
  // when neither of the rules below needs it).
  uint64_t first_line = kUnknownLine;
  // Header lines at the top of the file, not data (CSV with a header: 1).
  uint64_t header_lines = 0;
  // Keep only lines with (line index) % num_shards == shard (sharding a compressed file,
  // which cannot be split by bytes). num_shards 1 keeps all.
  uint32_t shard = 0;
  uint32_t num_shards = 1;
  // Split by data row index (line - header_lines): keep rows whose part matches `part`.
  // modulus 0 means no row-index split.
  uint64_t modulus = 0;
  uint64_t test_mask = 0;  // bit r set: residue r is test (residues < 64)
  int part = 0;            // 0: all rows, 1: train only, 2: test only

  // Whether the line with absolute index `line` is to be parsed at all.
  bool Keep(uint64_t line) const {
    if (line < header_lines && first_line != kUnknownLine) return false;
    if (num_shards > 1 && line % num_shards != shard) return false;
    if (modulus != 0 && part != 0) {
      uint64_t row = line - header_lines;
      bool test = (test_mask >> (row % modulus)) & 1;
      if (test != (part == 2)) return false;
    }
    return true;
  }
};

// Calls fn(i, line, begin, end) for every line of a chunk [text, text + size), which ends
// with '\n': i is the line's 0-based index within the chunk, `line` its index in the file
// as `filter` counts it (i when the chunk's first line is unknown), and [begin, end) its
// text without "\n" or "\r\n". The one line walk every parser shares.
template <typename Fn>
inline void ForEachLine(const char* text, size_t size, const LineFilter& filter, Fn fn) {
  const char* p = text;
  const char* const stop = text + size;
  for (uint64_t i = 0; p < stop; ++i) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', stop - p));
    const char* end = nl;
    if (end > p && end[-1] == '\r') --end;
    fn(i, filter.first_line == kUnknownLine ? i : filter.first_line + i, p, end);
    p = nl + 1;
  }
}

struct BadLine {
  uint64_t line;  // index within the chunk
  std::string reason;
};

struct ParseOutput {
  Batch batch;
  std::vector<BadLine> bad;
  uint64_t skipped = 0;  // lines left out by the filter or blank

  void Clear() {
    batch.Clear();
    bad.clear();
    skipped = 0;
  }
};

class LineParser {
 public:
  virtual ~LineParser() = default;
  // Appends the rows of text[0, size) (whole lines, the last ending in '\n') to out.
  virtual void Parse(const char* text, size_t size, const LineFilter& filter,
                     ParseOutput* out) const = 0;
  // Whether rows carry field ids.
  virtual bool has_fields() const = 0;
};

}  // namespace sparrow::data
