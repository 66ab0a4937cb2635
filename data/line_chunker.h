// LineChunker: cuts a byte stream into chunks of whole lines, the unit of parallel parsing.
//
// Sharding by byte range: the lines of a shard [begin, end) are those whose first byte
// lies in it. The chunker of a shard with begin > 0 starts reading at begin - 1 and drops
// everything up to and including the first '\n', so a line that straddles `begin` belongs
// to the previous shard; it reads past `end` only to finish the line that starts before
// it. Over shards 0..n-1 every line is read exactly once.
//
// Every chunk ends with '\n': a last line without one gets it appended, so parsers can
// rely on the terminator. Chunks count their lines (SIMD, far cheaper than parsing).
//
// Thread safety: one thread (the pipeline's serial input stage).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/byte_stream.h"

namespace sparrow::data {

struct Chunk {
  std::vector<char> text;   // whole lines, each ending in '\n'
  size_t size = 0;          // bytes of `text` in use
  uint64_t offset = 0;      // offset of text[0] in the decompressed file
  uint64_t first_line = 0;  // index of the first line, counted from the shard's first line
  uint64_t lines = 0;       // '\n' in text[0, size)
};

class LineChunker {
 public:
  // Reads lines of `stream` whose first byte is in [begin, end) of the file; the stream
  // must be positioned at begin - 1 when begin > 0 (at 0 otherwise). end = UINT64_MAX
  // reads to the end of the file. `name` is for error messages.
  LineChunker(std::unique_ptr<ByteStream> stream, std::string name, uint64_t begin, uint64_t end,
              size_t chunk_bytes);

  // Fills *chunk with the next lines; chunk->size == 0 means no lines are left.
  // Errors: read errors, a line longer than kMaxLineBytes.
  Status Next(Chunk* chunk);

  static constexpr size_t kMaxLineBytes = size_t{1} << 30;

 private:
  Status Fill();  // tops up buf_ from the stream

  std::unique_ptr<ByteStream> stream_;
  std::string name_;
  uint64_t end_;
  size_t chunk_bytes_;
  std::vector<char> buf_;  // unconsumed bytes read from the stream: [head_, tail_)
  size_t head_ = 0, tail_ = 0;
  uint64_t pos_;        // file offset of buf_[head_]
  uint64_t lines_ = 0;  // lines handed out so far
  bool skip_partial_;   // still dropping the tail of the previous shard's line
  bool eof_ = false;
  bool done_ = false;
};

// Number of '\n' bytes in [p, p + n).
uint64_t CountNewlines(const char* p, size_t n);

// Line number (1-based) of the byte at `offset` of the plain file at `path`: counts
// newlines before it. Used to name the line of an error in a shard that starts mid-file.
Result<uint64_t> LineNumberAt(const std::string& path, uint64_t offset);

}  // namespace sparrow::data
