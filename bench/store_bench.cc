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

// A table of `state`'s optimizer (range 0) and width (range 1) holding kKeys keys.
std::unique_ptr<Table> FilledTable(const benchmark::State& state,
                                   const std::vector<uint64_t>& keys) {
  wire::TableSpec spec;
  spec.set_width(static_cast<uint32_t>(state.range(1)));
  spec.set_optimizer(static_cast<wire::OptimizerKind>(state.range(0)));
  auto table = std::move(Table::Create(spec, 0).value());
  table->Push(keys.data(), std::vector<float>(kKeys * spec.width(), 0.1f).data(), kKeys);
  return table;
}

// Runs op(batch) per iteration on kBatch stored keys drawn at random and sorted, as a
// request would carry them; the drawing is not timed.
template <typename Op>
void RunBatches(benchmark::State& state, const std::vector<uint64_t>& keys, const Table& table,
                Op op) {
  std::mt19937_64 rng(1);
  std::vector<uint64_t> batch(kBatch);
  for (auto _ : state) {
    state.PauseTiming();
    for (auto& k : batch) k = keys[rng() % kKeys];
    std::sort(batch.begin(), batch.end());
    state.ResumeTiming();
    op(batch);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(wire::OptimizerKind_Name(table.spec().optimizer()));
}

void BM_Push(benchmark::State& state) {
  const auto keys = Keys();
  auto table = FilledTable(state, keys);
  std::vector<float> grads(kBatch * table->width(), 0.5f);
  RunBatches(state, keys, *table, [&](const std::vector<uint64_t>& batch) {
    table->Push(batch.data(), grads.data(), kBatch);
  });
  state.counters["bytes_per_key"] = static_cast<double>(table->Stats().bytes()) / kKeys;
}

void BM_Pull(benchmark::State& state) {
  const auto keys = Keys();
  auto table = FilledTable(state, keys);
  std::vector<float> out(kBatch * table->width());
  RunBatches(state, keys, *table, [&](const std::vector<uint64_t>& batch) {
    table->Pull(batch.data(), kBatch, out.data());
  });
}

void Args(benchmark::internal::Benchmark* b) {
  for (int opt : {wire::SGD, wire::ADAGRAD, wire::FTRL, wire::ADAM}) {
    for (int width : {1, 8, 32}) b->Args({opt, width});  // 32: FFM, 8 fields x k=4
  }
}

BENCHMARK(BM_Push)->Apply(Args);
BENCHMARK(BM_Pull)->Apply(Args);

}  // namespace
}  // namespace sparrow::server
