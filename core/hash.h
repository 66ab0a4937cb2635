// The feature hash: the one function that turns (column, value) into a 64-bit model key.
//
// Every reader, the synthetic generator and (later) the scoring daemon call this and only
// this, so a key means the same feature everywhere. The definition is pinned; changing it
// invalidates every model file and cache, so it carries a version (kFeatureHashVersion)
// that model and cache headers record.
//
// Definition (version 1), reproducible in any language with xxHash >= 0.8.0, whose XXH3
// output is frozen by its authors:
//
//   column_seed(seed, column) = XXH3_64bits_withSeed(column bytes, len(column), seed)
//   key(seed, column, value)  = XXH3_64bits_withSeed(value bytes, len(value),
//                                                    column_seed(seed, column))
//
// Bytes are the UTF-8 bytes exactly as they appear in the data (after CSV unquoting), no
// terminator. The spec's hash_seed is `seed` (default 0). What `column` and `value` are for
// each reader (LIBSVM index "123" with column "", CSV bucket "b3", crosses joined by 0x1F,
// the missing value "") is written in docs/data.md, section "Keys".
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL  // the hash sits in every parser's inner loop; let it inline
#include <xxhash.h>

namespace sparrow {

inline constexpr uint32_t kFeatureHashVersion = 1;

// Seed for all values of one column. Compute once per column, not per row.
inline uint64_t ColumnSeed(uint64_t seed, std::string_view column) {
  return XXH3_64bits_withSeed(column.data(), column.size(), seed);
}

// The key of `value` in the column whose ColumnSeed is `column_seed`.
inline uint64_t FeatureKey(uint64_t column_seed, const char* value, size_t len) {
  return XXH3_64bits_withSeed(value, len, column_seed);
}
inline uint64_t FeatureKey(uint64_t column_seed, std::string_view value) {
  return FeatureKey(column_seed, value.data(), value.size());
}

// key(seed, column, value) in one call, for cold paths and tests.
inline uint64_t FeatureKey(uint64_t seed, std::string_view column, std::string_view value) {
  return FeatureKey(ColumnSeed(seed, column), value);
}

}  // namespace sparrow
