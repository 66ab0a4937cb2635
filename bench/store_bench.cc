// Micro-benchmark of the store's update path (push) and read path (pull) per optimizer:
// `build/bench/store_bench`. Arguments: optimizer, width, keys in the table, keys per
// request. Every optimizer runs over 1M keys with 10k-key requests (DRAM-bound); the
// talkingdata_ffm shapes (34k keys, ~2k distinct keys a step, FTRL w and AdaGrad v)
// show a training step's store work when the table fits in cache.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "server/table.h"

namespace sparrow::server {
namespace {

std::vector<uint64_t> Keys(const benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> k(static_cast<size_t>(state.range(2)));
  for (auto& x : k) x = rng();
  return k;
}

// A table of `state`'s optimizer (range 0) and width (range 1) holding `keys`.
std::unique_ptr<Table> FilledTable(const benchmark::State& state,
                                   const std::vector<uint64_t>& keys) {
  wire::TableSpec spec;
  spec.set_width(static_cast<uint32_t>(state.range(1)));
  spec.set_optimizer(static_cast<wire::OptimizerKind>(state.range(0)));
  // Sized for its keys, as a worker's distinct-key hint sizes a training table: the
  // table ends at its maximum load.
  auto table = std::move(Table::Create(spec, keys.size()).value());
  std::vector<uint64_t> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  table->Push(sorted.data(), std::vector<float>(sorted.size() * spec.width(), 0.1f).data(),
              sorted.size());
  return table;
}

// Runs op(batch) per iteration on range(3) stored keys drawn at random and sorted, as a
// request would carry them; the drawing is not timed.
template <typename Op>
void RunBatches(benchmark::State& state, const std::vector<uint64_t>& keys, const Table& table,
                Op op) {
  std::mt19937_64 rng(1);
  std::vector<uint64_t> batch;
  for (auto _ : state) {
    state.PauseTiming();
    batch.clear();
    while (batch.size() < static_cast<size_t>(state.range(3))) {  // distinct, as requests are
      while (batch.size() < static_cast<size_t>(state.range(3))) {
        batch.push_back(keys[rng() % keys.size()]);
      }
      std::sort(batch.begin(), batch.end());
      batch.erase(std::unique(batch.begin(), batch.end()), batch.end());
    }
    state.ResumeTiming();
    op(batch);
  }
  state.SetItemsProcessed(state.iterations() * state.range(3));
  state.SetLabel(wire::OptimizerKind_Name(table.spec().optimizer()));
}

void BM_Push(benchmark::State& state) {
  const auto keys = Keys(state);
  auto table = FilledTable(state, keys);
  std::vector<float> grads(state.range(3) * table->width(), 0.5f);
  RunBatches(state, keys, *table, [&](const std::vector<uint64_t>& batch) {
    table->Push(batch.data(), grads.data(), batch.size());
  });
  state.counters["bytes_per_key"] = static_cast<double>(table->Stats().bytes()) / keys.size();
}

void BM_Pull(benchmark::State& state) {
  const auto keys = Keys(state);
  auto table = FilledTable(state, keys);
  std::vector<float> out(state.range(3) * table->width());
  RunBatches(state, keys, *table, [&](const std::vector<uint64_t>& batch) {
    table->Pull(batch.data(), batch.size(), out.data());
  });
}

void Args(benchmark::internal::Benchmark* b) {
  for (int opt : {wire::SGD, wire::ADAGRAD, wire::FTRL, wire::ADAM}) {
    for (int width : {1, 8, 32}) b->Args({opt, width, 1 << 20, 10000});  // 32: FFM, 8 x k=4
  }
  b->Args({wire::FTRL, 1, 34000, 2000});      // talkingdata_ffm's w
  b->Args({wire::ADAGRAD, 32, 34000, 2000});  // and its v
}

BENCHMARK(BM_Push)->Apply(Args);
BENCHMARK(BM_Pull)->Apply(Args);

}  // namespace
}  // namespace sparrow::server
