#include "bench/kv_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <sstream>

namespace sparrow::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::shared_ptr<std::vector<uint64_t>> RandomKeys(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto k = std::make_shared<std::vector<uint64_t>>();
  k->reserve(n);
  while (k->size() < n) {
    for (size_t i = k->size(); i < n; ++i) k->push_back(rng());
    std::sort(k->begin(), k->end());
    k->erase(std::unique(k->begin(), k->end()), k->end());
  }
  return k;
}

}  // namespace

double Percentile(std::vector<double>* v, double p) {
  if (v->empty()) return 0;
  std::sort(v->begin(), v->end());
  const size_t idx =
      std::min(v->size() - 1, static_cast<size_t>(std::floor(p * (v->size() - 1) + 0.5)));
  return (*v)[idx];
}

std::string KvBenchResult::ToLine(int rank) const {
  std::ostringstream o;
  o.precision(10);
  o << "kvbench_worker rank=" << rank << " push_ms=" << push_ms_median
    << " pull_ms=" << pull_ms_median << " push_keys_per_s=" << push_keys_per_s
    << " pull_keys_per_s=" << pull_keys_per_s << " push_mb_per_s=" << push_mb_per_s
    << " pull_mb_per_s=" << pull_mb_per_s << " small_pull_p50_us=" << small_pull_p50_us
    << " small_pull_p99_us=" << small_pull_p99_us << " iterations=" << iterations
    << " table_keys=" << table_keys << " table_bytes=" << table_bytes;
  return o.str();
}

bool KvBenchResult::FromLine(const std::string& line, KvBenchResult* r) {
  std::istringstream in(line);
  std::string word;
  in >> word;
  if (word != "kvbench_worker") return false;
  while (in >> word) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = word.substr(0, eq);
    const double v = std::strtod(word.c_str() + eq + 1, nullptr);
    if (k == "push_ms") r->push_ms_median = v;
    if (k == "pull_ms") r->pull_ms_median = v;
    if (k == "push_keys_per_s") r->push_keys_per_s = v;
    if (k == "pull_keys_per_s") r->pull_keys_per_s = v;
    if (k == "push_mb_per_s") r->push_mb_per_s = v;
    if (k == "pull_mb_per_s") r->pull_mb_per_s = v;
    if (k == "small_pull_p50_us") r->small_pull_p50_us = v;
    if (k == "small_pull_p99_us") r->small_pull_p99_us = v;
    if (k == "iterations") r->iterations = static_cast<int>(v);
    if (k == "table_keys") r->table_keys = static_cast<uint64_t>(v);
    if (k == "table_bytes") r->table_bytes = static_cast<uint64_t>(v);
  }
  return true;
}

Result<KvBenchResult> RunKvBenchWorker(cluster::Node* node, worker::KVClient* kv,
                                       const KvBenchOptions& o) {
  const uint32_t kTable = 0, kSmallTable = 1;
  wire::TableSpec spec;
  spec.set_id(kTable);
  spec.set_name("bench");
  spec.set_width(o.value_width);
  spec.set_optimizer(o.optimizer);
  SPARROW_RETURN_IF_ERROR(kv->CreateTable(spec));
  spec.set_id(kSmallTable);
  spec.set_name("bench_small");
  SPARROW_RETURN_IF_ERROR(kv->CreateTable(spec));

  // Every worker pushes the same keys, as ps-lite's benchmark does.
  auto keys = RandomKeys(o.keys, 12345);
  auto grads = std::make_shared<std::vector<float>>(o.keys * o.value_width, 1.0f);
  std::vector<float> out(o.keys * o.value_width);
  const uint32_t w = o.value_width;
  auto push = [&] { return kv->Wait(kv->Push(kTable, keys, grads, w)); };
  auto pull = [&] { return kv->Wait(kv->Pull(kTable, keys, w, out.data())); };

  SPARROW_RETURN_IF_ERROR(node->Barrier(wire::WORKER));
  for (int i = 0; i < 2; ++i) {  // warm-up: inserts every key, faults every buffer in
    SPARROW_RETURN_IF_ERROR(push());
    SPARROW_RETURN_IF_ERROR(pull());
  }
  std::vector<double> tpush, tpull;
  const auto start = Clock::now();
  while (tpush.size() < 3 || (Since(start) < o.seconds && tpush.size() < 1000)) {
    auto t0 = Clock::now();
    SPARROW_RETURN_IF_ERROR(push());
    auto t1 = Clock::now();
    SPARROW_RETURN_IF_ERROR(pull());
    tpush.push_back(std::chrono::duration<double>(t1 - t0).count());
    tpull.push_back(Since(t1));
  }
  KvBenchResult r;
  r.iterations = static_cast<int>(tpush.size());
  r.push_ms_median = Percentile(&tpush, 0.5) * 1e3;
  r.pull_ms_median = Percentile(&tpull, 0.5) * 1e3;
  const double bytes = o.keys * (sizeof(uint64_t) + sizeof(float) * w);
  r.push_keys_per_s = o.keys / (r.push_ms_median / 1e3);
  r.pull_keys_per_s = o.keys / (r.pull_ms_median / 1e3);
  r.push_mb_per_s = bytes / (r.push_ms_median / 1e3) / 1e6;
  r.pull_mb_per_s = bytes / (r.pull_ms_median / 1e3) / 1e6;

  if (node->rank() == 0) {
    SPARROW_ASSIGN_OR_RETURN(auto stats, kv->Stats());
    for (const auto& s : stats) {
      if (s.table() == kTable) {
        r.table_keys = s.keys();
        r.table_bytes = s.bytes();
      }
    }
  }
  SPARROW_RETURN_IF_ERROR(node->Barrier(wire::WORKER));

  // Small pulls, one in flight: the latency a training step sees per request.
  auto small = RandomKeys(o.small_keys, 999);
  auto small_grads = std::make_shared<std::vector<float>>(small->size() * w, 1.0f);
  std::vector<float> small_out(small->size() * w);
  SPARROW_RETURN_IF_ERROR(kv->Wait(kv->Push(kSmallTable, small, small_grads, w)));
  for (int i = 0; i < 500; ++i) {
    SPARROW_RETURN_IF_ERROR(kv->Wait(kv->Pull(kSmallTable, small, w, small_out.data())));
  }
  std::vector<double> lat;
  const auto lstart = Clock::now();
  while (lat.size() < 1000 || (Since(lstart) < o.seconds / 3 && lat.size() < 50000)) {
    auto t0 = Clock::now();
    SPARROW_RETURN_IF_ERROR(kv->Wait(kv->Pull(kSmallTable, small, w, small_out.data())));
    lat.push_back(Since(t0) * 1e6);
  }
  r.small_pull_p50_us = Percentile(&lat, 0.5);
  r.small_pull_p99_us = Percentile(&lat, 0.99);
  return r;
}

}  // namespace sparrow::bench
