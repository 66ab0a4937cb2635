// libFuzzer target: cache block decoding. The CRCs are fixed up first (a random block
// would fail them and stop there), so the decoder's bounds checks get the fuzzing.
#include <cstring>
#include <string>

#include "core/crc32c.h"
#include "data/cache.h"
#include "data/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparrow;
  if (size < 1) return 0;
  const bool has_fields = data[0] & 1;
  const bool fix = data[0] & 2;
  std::string block(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (fix && block.size() >= 32) {
    uint32_t payload = Crc32c(block.data() + 32, block.size() - 32);
    std::memcpy(block.data() + 20, &payload, 4);
    uint32_t head = Crc32c(block.data(), 24);
    std::memcpy(block.data() + 24, &head, 4);
  }
  data::Batch out;
  Status st = data::DecodeCacheBlock(block.data(), block.size(), has_fields, &out);
  if (st.ok()) data::fuzz::Check(out.Valid());
  return 0;
}
