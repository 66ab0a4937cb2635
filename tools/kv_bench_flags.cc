#include "tools/kv_bench_flags.h"

#include <algorithm>

DEFINE_uint64(keys, 1000000, "bench kv: unique keys per push/pull");
DEFINE_uint32(value_width, 1, "bench kv: floats per key");
DEFINE_string(optimizer, "ftrl", "bench kv: sgd, adagrad, ftrl or adam");
DEFINE_double(seconds, 5, "bench kv: seconds of the throughput loop per worker");

namespace sparrow::tools {

Result<wire::OptimizerKind> ParseOptimizer(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), ::toupper);
  wire::OptimizerKind k;
  if (!wire::OptimizerKind_Parse(n, &k) || k == wire::OPTIMIZER_UNSPECIFIED) {
    return InvalidArgument("--optimizer: '" + name + "' is not one of sgd, adagrad, ftrl, adam");
  }
  return k;
}

Result<bench::KvBenchOptions> KvBenchOptionsFromFlags() {
  bench::KvBenchOptions o;
  if (FLAGS_keys == 0) return InvalidArgument("--keys must be at least 1");
  if (FLAGS_value_width == 0 || FLAGS_value_width > 4096) {
    return InvalidArgument("--value_width must be in [1, 4096]");
  }
  if (!(FLAGS_seconds > 0)) return InvalidArgument("--seconds must be positive");
  o.keys = FLAGS_keys;
  o.value_width = FLAGS_value_width;
  o.seconds = FLAGS_seconds;
  SPARROW_ASSIGN_OR_RETURN(o.optimizer, ParseOptimizer(FLAGS_optimizer));
  return o;
}

}  // namespace sparrow::tools
