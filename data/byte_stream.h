// Byte streams: the bottom of every reader. A file is plain, gzip or zstd, told by its
// magic bytes (not its name, which lies often enough); the stream hands out the
// decompressed bytes in order.
//
// A truncated or corrupt compressed file is a DataLoss error naming the file, never a
// silent short read.
//
// Thread safety: a stream is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace sparrow::data {

enum class Compression { kNone, kGzip, kZstd };

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to n > 0 bytes into buf. Returns the count, 0 only at the end of the stream.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
};

// Compression of the file at `path` from its first bytes.
Result<Compression> DetectCompression(const std::string& path);
Compression DetectCompression(std::string_view first_bytes);

// Size in bytes of the file as stored (compressed size for compressed files).
Result<uint64_t> FileSize(const std::string& path);

// Opens `path` decompressed. `offset` > 0 starts there and needs a plain file.
Result<std::unique_ptr<ByteStream>> OpenByteStream(const std::string& path, uint64_t offset = 0);

// Streams over caller-owned bytes (which must outlive the stream), decompressing them
// by magic; for tests and fuzzers. `name` is used in error messages.
std::unique_ptr<ByteStream> MemoryByteStream(std::string_view bytes, std::string name);

}  // namespace sparrow::data
