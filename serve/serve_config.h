// Loading a serve config (proto/serve.proto, Protobuf text format).
#pragma once

#include <string>

#include "core/status.h"
#include "proto/serve.pb.h"

namespace sparrow::serve {

// Reads `path` ("" gives the defaults). An unknown field or a bad value is an error naming
// the file, line and column. Checks ranges (threads >= 1, limits > 0, scorecard pdo > 0
// and base_odds > 0, pricing floor <= cap).
Result<ServeConfig> LoadServeConfig(const std::string& path);

// Checks the ranges above on a config however it was built.
Status ValidateServeConfig(const ServeConfig& config);

}  // namespace sparrow::serve
