// Shared by the libFuzzer targets: run a parser over arbitrary bytes and check the batch
// invariants. A target must never crash, hang or leak; every input either parses or is
// reported as bad lines.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "data/batch.h"
#include "data/line_parser.h"

namespace sparrow::data::fuzz {

inline void Check(bool ok) {
  if (!ok) std::abort();
}

// Parses `bytes` as whole lines (a '\n' is appended, as the chunker guarantees).
inline void ParseAll(const LineParser& parser, const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  text.push_back('\n');
  ParseOutput out;
  out.batch.has_fields = parser.has_fields();
  LineFilter filter;
  filter.first_line = 0;
  parser.Parse(text.data(), text.size(), filter, &out);
  Check(out.batch.Valid());
  for (const BadLine& b : out.bad) Check(!b.reason.empty());
}

}  // namespace sparrow::data::fuzz
