// Flags of the `bench kv` workload, read by `sparrow bench kv` and by its workers.
#pragma once

#include <gflags/gflags.h>

#include "bench/kv_bench.h"

DECLARE_uint64(keys);
DECLARE_uint32(value_width);
DECLARE_string(optimizer);
DECLARE_double(seconds);

namespace sparrow::tools {

Result<bench::KvBenchOptions> KvBenchOptionsFromFlags();
// "sgd", "adagrad", "ftrl", "adam" (any case).
Result<wire::OptimizerKind> ParseOptimizer(const std::string& name);

}  // namespace sparrow::tools
