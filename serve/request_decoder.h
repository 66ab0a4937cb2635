// The JSON decoder of POST /v1/score: one request body into rows of a Batch, through the
// model's own feature spec (serve/serving_model.h). The hot path of the daemon; it
// allocates nothing once a thread's Decoded has grown to its largest request.
//
//   {"records": [RECORD, ...], "explain": K}
//
// A rejection names the record and the column ("record 2: column 'age': expected a number
// or null, got a string"), so a caller can fix the one value at fault.
//
// Thread safety: none; one DecodeScoreRequest per thread at a time, with its own parser,
// encoder, batch and Decoded.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "serve/serving_model.h"

namespace sparrow::serve {

struct DecodeLimits {
  uint32_t max_records = 1000;
  uint32_t max_explain = 20;
  bool ignore_unknown = false;  // else an unknown column is rejected
};

// A decoded request. The views point into the request body or the parser's string buffer:
// valid until the next decode with the same parser and body.
struct Decoded {
  uint32_t explain = 0;
  size_t rows = 0;
  uint64_t unknown_ignored = 0;  // columns dropped under ignore_unknown
  // CSV models: rows * columns() values, row-major; empty view = missing.
  std::vector<std::string_view> fields;
  // Sparse models: per feature position of the batch, the index token and value token.
  std::vector<std::string_view> indices, values;
  // Scratch: which columns the current record named (record number + 1 per column).
  std::vector<uint32_t> seen;
};

// Decodes `body` (which must have SIMDJSON_PADDING readable bytes past its end) into rows
// appended to *batch (cleared first) and *out. Returns InvalidArgument with the reason.
Status DecodeScoreRequest(const ServingModel& model, const DecodeLimits& limits,
                          simdjson::padded_string_view body, simdjson::ondemand::parser* parser,
                          ServingModel::Encoder* encoder, data::Batch* batch, Decoded* out);

}  // namespace sparrow::serve
