// Exact number parsing for the parsers' inner loops: fast_float (the same result as
// strtof/strtod, several times faster) and a plain digit loop for indices.
// Unlike std::from_chars, a leading '+' is accepted ("+1" labels are common in LIBSVM).
// Non-finite results ("nan", "inf", overflow) are rejected: they would poison a model.
#pragma once

#include <fast_float/fast_float.h>

#include <cmath>
#include <cstdint>

namespace sparrow::data {

// Parses a float at [p, end). Returns the end of the number, or nullptr if there is none
// or it is not finite.
template <typename T>
inline const char* ParseReal(const char* p, const char* end, T* out) {
  // Fast path for short integers ("1", "-1", "+1", "37"): the integer converted to T is
  // the correctly rounded value, exactly what the general parser would return.
  {
    const char* q = p;
    bool neg = false;
    if (q < end && (*q == '-' || *q == '+')) neg = *q++ == '-';
    const char* digits = q;
    uint64_t v = 0;
    while (q < end && static_cast<unsigned>(*q - '0') < 10 && q - digits < 18) {
      v = v * 10 + static_cast<unsigned>(*q - '0');
      ++q;
    }
    if (q > digits && (q == end || (static_cast<unsigned>(*q - '0') >= 10 && *q != '.' &&
                                    *q != 'e' && *q != 'E'))) {
      *out = neg ? -static_cast<T>(v) : static_cast<T>(v);
      return q;
    }
  }
  if (p < end && *p == '+') {
    ++p;
    if (p < end && *p == '-') return nullptr;
  }
  auto r = fast_float::from_chars(p, end, *out);
  if (r.ec != std::errc() || !std::isfinite(*out)) return nullptr;
  return r.ptr;
}

// Parses a non-negative decimal integer at [p, end). Returns the end of the digits, or
// nullptr if there are none or the value exceeds 2^64 - 1.
inline const char* ParseIndex(const char* p, const char* end, uint64_t* out) {
  const char* s = p;
  uint64_t v = 0;
  while (p < end && static_cast<unsigned>(*p - '0') < 10) {
    unsigned d = static_cast<unsigned>(*p - '0');
    if (p - s >= 19 && (v > (UINT64_MAX - d) / 10)) return nullptr;
    v = v * 10 + d;
    ++p;
  }
  if (p == s) return nullptr;
  *out = v;
  return p;
}

}  // namespace sparrow::data
