// `sparrow bench kv`: a local cluster of real processes measuring push/pull throughput
// and small-pull latency. The last line is the summary:
//   kv: push_keys_per_s=<n> pull_keys_per_s=<n> small_pull_p99_us=<n> bytes_per_key=<n>
#include <glog/logging.h>

#include <cstdio>
#include <sstream>

#include "bench/kv_bench.h"
#include "cluster/signals.h"
#include "launcher/local_cluster.h"
#include "tools/cluster_flags.h"
#include "tools/cluster_roles.h"
#include "tools/command.h"
#include "tools/kv_bench_flags.h"

namespace sparrow::tools {

int RunBenchKv(const std::vector<std::string>& /*args*/) {
  auto opts = KvBenchOptionsFromFlags();
  if (!opts.ok()) {
    std::fprintf(stderr, "bench kv: %s\n", opts.status().message().c_str());
    return 2;
  }
  launcher::LocalClusterOptions lo;
  lo.binary = SelfExecutable();
  lo.servers = FLAGS_servers;
  lo.workers = FLAGS_workers;
  lo.max_delay = FLAGS_max_delay;
  lo.local_ipc = FLAGS_local_ipc;
  lo.poll_spin_us = FLAGS_poll_spin_us;
  lo.curve_keys = FLAGS_curve_keys;
  lo.capture_worker_stdout = true;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%g", FLAGS_seconds);
  lo.worker_args = {"--task=kv_bench", "--keys=" + std::to_string(FLAGS_keys),
                    "--value_width=" + std::to_string(FLAGS_value_width),
                    "--optimizer=" + FLAGS_optimizer, std::string("--seconds=") + buf};
  std::printf("bench kv: %d server(s), %d worker(s), %lu keys of width %u, %s%s\n", lo.servers,
              lo.workers, static_cast<unsigned long>(FLAGS_keys), FLAGS_value_width,
              FLAGS_optimizer.c_str(), lo.curve_keys.empty() ? "" : ", CURVE");
  std::fflush(stdout);
  launcher::LocalCluster lc(lo);
  cluster::HandleTerminationSignals([&lc](int) { lc.RequestShutdown("interrupted"); });
  Status st = lc.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "bench kv: %s\n", st.message().c_str());
    return 1;
  }
  launcher::LocalClusterResult r = lc.Wait();
  if (!r.status.ok()) {
    std::fprintf(stderr, "bench kv: cluster failed: %s\n", r.status.message().c_str());
    return 1;
  }
  double push = 0, pull = 0, p99 = 0, push_mb = 0, pull_mb = 0;
  uint64_t keys = 0, bytes = 0;
  for (size_t i = 0; i < r.worker_stdout.size(); ++i) {
    std::istringstream in(r.worker_stdout[i]);
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
      bench::KvBenchResult w;
      if (!bench::KvBenchResult::FromLine(line, &w)) continue;
      found = true;
      std::printf(
          "worker %zu: push %.2f ms (%.2f M keys/s, %.0f MB/s), pull %.2f ms "
          "(%.2f M keys/s, %.0f MB/s) median of %d; 100-key pull p50 %.0f us, "
          "p99 %.0f us\n",
          i, w.push_ms_median, w.push_keys_per_s / 1e6, w.push_mb_per_s, w.pull_ms_median,
          w.pull_keys_per_s / 1e6, w.pull_mb_per_s, w.iterations, w.small_pull_p50_us,
          w.small_pull_p99_us);
      push += w.push_keys_per_s;
      pull += w.pull_keys_per_s;
      push_mb += w.push_mb_per_s;
      pull_mb += w.pull_mb_per_s;
      p99 = std::max(p99, w.small_pull_p99_us);
      if (w.table_keys) {
        keys = w.table_keys;
        bytes = w.table_bytes;
      }
    }
    if (!found) {
      std::fprintf(stderr, "bench kv: worker %zu reported nothing (exit %d)\n", i,
                   r.worker_exits[i]);
      return 1;
    }
  }
  const double bpk = keys ? static_cast<double>(bytes) / keys : 0;
  std::printf(
      "all workers: push %.2f M keys/s (%.0f MB/s), pull %.2f M keys/s (%.0f MB/s); "
      "table: %lu keys in %.1f MB\n",
      push / 1e6, push_mb, pull / 1e6, pull_mb, static_cast<unsigned long>(keys), bytes / 1e6);
  std::printf(
      "kv: push_keys_per_s=%.0f pull_keys_per_s=%.0f small_pull_p99_us=%.0f "
      "bytes_per_key=%.1f\n",
      push, pull, p99, bpk);
  return 0;
}

}  // namespace sparrow::tools
