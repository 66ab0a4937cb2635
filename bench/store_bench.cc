// Micro-benchmark of the store's update path (push) and read path (pull) per optimizer,
// over a table of 1M keys: `build/bench/store_bench`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "server/table.h"

namespace sparrow::server {
namespace {

constexpr size_t kKeys = 1 << 20;
constexpr size_t kBatch = 10000;

std::vector<uint64_t> Keys() {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> k(kKeys);
  for (auto& x : k) x = rng();
  return k;
}

void BM_Push(benchmark::State& state) {
  wire::TableSpec spec;
  spec.set_width(static_cast<uint32_t>(state.range(1)));
  spec.set_optimizer(static_cast<wire::OptimizerKind>(state.range(0)));
  auto table = std::move(Table::Create(spec, 0).value());
  const auto keys = Keys();
  std::vector<float> grads(kBatch * spec.width(), 0.5f);
  table->Push(keys.data(), std::vector<float>(kKeys * spec.width(), 0.1f).data(), kKeys);
  std::mt19937_64 rng(1);
  std::vector<uint64_t> batch(kBatch);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& k : batch) k = keys[rng() % kKeys];
    std::sort(batch.begin(), batch.end());
    state.ResumeTiming();
    table->Push(batch.data(), grads.data(), kBatch);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["bytes_per_key"] = static_cast<double>(table->Stats().bytes()) / kKeys;
  state.SetLabel(wire::OptimizerKind_Name(spec.optimizer()));
}

void BM_Pull(benchmark::State& state) {
  wire::TableSpec spec;
  spec.set_width(static_cast<uint32_t>(state.range(1)));
  spec.set_optimizer(static_cast<wire::OptimizerKind>(state.range(0)));
  auto table = std::move(Table::Create(spec, 0).value());
  const auto keys = Keys();
  table->Push(keys.data(), std::vector<float>(kKeys * spec.width(), 0.1f).data(), kKeys);
  std::vector<float> out(kBatch * spec.width());
  std::mt19937_64 rng(1);
  std::vector<uint64_t> batch(kBatch);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& k : batch) k = keys[rng() % kKeys];
    std::sort(batch.begin(), batch.end());
    state.ResumeTiming();
    table->Pull(batch.data(), kBatch, out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(wire::OptimizerKind_Name(spec.optimizer()));
}

void Args(benchmark::internal::Benchmark* b) {
  for (int opt : {wire::SGD, wire::ADAGRAD, wire::FTRL, wire::ADAM}) {
    for (int width : {1, 8}) b->Args({opt, width});
  }
}

BENCHMARK(BM_Push)->Apply(Args);
BENCHMARK(BM_Pull)->Apply(Args);

}  // namespace
}  // namespace sparrow::server
