#include "core/crc32c.h"

#include <nmmintrin.h>

#include <cstring>

namespace sparrow {
namespace {

uint64_t Load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Multiplication of a CRC by x^(8*kStride) mod P, done the slow but simple way: feed
// zero bytes. Used to combine the three streams; a table per stride keeps it cheap.
constexpr size_t kStride = 4096;  // bytes per stream per round

uint32_t ShiftSlow(uint32_t crc, size_t zero_bytes) {
  // crc32 of zero bytes continued from `crc`, without the pre/post inversion.
  uint64_t c = crc;
  for (size_t i = 0; i < zero_bytes / 8; ++i) c = _mm_crc32_u64(c, 0);
  return static_cast<uint32_t>(c);
}

// Table: for each byte position b in 0..3 and byte value v, Shift(v << 8b, kStride).
struct ShiftTable {
  uint32_t t[4][256];
  ShiftTable() {
    for (int b = 0; b < 4; ++b)
      for (uint32_t v = 0; v < 256; ++v) t[b][v] = ShiftSlow(v << (8 * b), kStride);
  }
  uint32_t Shift(uint32_t crc) const {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
  }
};

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  static const ShiftTable table;
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t c0 = ~crc;
  // Three independent streams over consecutive kStride-byte pieces, then combined:
  // crc(A|B) = shift(crc(A), |B|) ^ crc0(B), where crc0 starts from zero.
  while (n >= 3 * kStride) {
    uint64_t c1 = 0, c2 = 0;
    const unsigned char* p1 = p + kStride;
    const unsigned char* p2 = p + 2 * kStride;
    for (size_t i = 0; i < kStride; i += 8) {
      c0 = _mm_crc32_u64(c0, Load64(p + i));
      c1 = _mm_crc32_u64(c1, Load64(p1 + i));
      c2 = _mm_crc32_u64(c2, Load64(p2 + i));
    }
    c0 = table.Shift(static_cast<uint32_t>(c0)) ^ c1;
    c0 = table.Shift(static_cast<uint32_t>(c0)) ^ c2;
    p += 3 * kStride;
    n -= 3 * kStride;
  }
  while (n >= 8) {
    c0 = _mm_crc32_u64(c0, Load64(p));
    p += 8;
    n -= 8;
  }
  uint32_t c = static_cast<uint32_t>(c0);
  while (n > 0) {
    c = _mm_crc32_u8(c, *p++);
    --n;
  }
  return ~c;
}

}  // namespace sparrow
