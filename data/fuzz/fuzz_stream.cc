// libFuzzer target: byte streams (plain, gzip, zstd by magic) cut into line chunks, the
// path every text reader takes. Chunks must be whole lines ending in '\n'.
#include "data/byte_stream.h"
#include "data/fuzz/fuzz_util.h"
#include "data/line_chunker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparrow::data;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  LineChunker chunker(MemoryByteStream(bytes, "fuzz"), "fuzz", 0, UINT64_MAX, 64);
  Chunk chunk;
  uint64_t total = 0;
  for (int i = 0; i < 100000; ++i) {
    if (!chunker.Next(&chunk).ok() || chunk.size == 0) break;
    fuzz::Check(chunk.text[chunk.size - 1] == '\n');
    fuzz::Check(chunk.lines == CountNewlines(chunk.text.data(), chunk.size));
    total += chunk.size;
    if (total > (64u << 20)) break;  // decompression bombs: enough
  }
  return 0;
}
