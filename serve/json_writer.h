// Appending JSON to a reused std::string: the daemon writes responses by hand rather than
// through a DOM, so a response costs no allocation once the buffer has grown.
//
// Thread safety: free functions over the caller's string.
#pragma once

#include <charconv>
#include <string>
#include <string_view>

namespace sparrow::serve {

// Appends s as a JSON string literal (quotes, escapes, control characters as \u00XX).
void AppendJsonString(std::string* out, std::string_view s);

// Shortest text that reads back as exactly this value (so clients see the float the model
// computed, bit for bit). Non-finite values, which JSON cannot hold, become null.
template <typename T>
void AppendJsonNumber(std::string* out, T v) {
  if (!(v - v == 0)) {  // NaN or infinity
    out->append("null");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace sparrow::serve
