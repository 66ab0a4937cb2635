// The worker side of `sparrow bench kv`: push/pull throughput of N unique keys and the
// latency of small pulls, measured the way dmlc/ps-lite's benchmark measures them (one
// request in flight, push then pull, median over iterations), so the figures compare.
#pragma once

#include <cstdint>
#include <string>

#include "worker/kv_client.h"

namespace sparrow::bench {

struct KvBenchOptions {
  uint64_t keys = 1000000;
  uint32_t value_width = 1;
  wire::OptimizerKind optimizer = wire::FTRL;
  double seconds = 5;  // time for the throughput loop; latency loop takes a third more
  int small_keys = 100;
};

struct KvBenchResult {
  double push_ms_median = 0, pull_ms_median = 0;
  double push_keys_per_s = 0, pull_keys_per_s = 0;
  double push_mb_per_s = 0, pull_mb_per_s = 0;
  double small_pull_p50_us = 0, small_pull_p99_us = 0;
  int iterations = 0;
  uint64_t table_keys = 0, table_bytes = 0;  // filled by worker rank 0
  // One line "kvbench_worker rank=R key=value ..." for the launcher to parse.
  std::string ToLine(int rank) const;
  static bool FromLine(const std::string& line, KvBenchResult* r);
};

// Runs on a started worker node. Requires every worker of the cluster to run it too
// (they meet at barriers).
Result<KvBenchResult> RunKvBenchWorker(cluster::Node* node, worker::KVClient* kv,
                                       const KvBenchOptions& options);

// Median and percentile (0..1) of a sample; the sample is reordered.
double Percentile(std::vector<double>* v, double p);

}  // namespace sparrow::bench
