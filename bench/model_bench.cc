// Micro-benchmark of a worker step's compute: dedupe a batch's keys (UniqueKeys, or
// UniqueIds over the key ids training gathers from its row store), then
// ForwardBackward for LR, FM and FFM, over a synthetic batch shaped like talkingdata's
// (512 rows, 8 categorical fields, one key per field, vocabularies from 10 to 100k):
// `build/bench/model_bench`. items_per_second is rows per second of one thread.
#include <benchmark/benchmark.h>

#include <random>

#include "data/batch_keys.h"
#include "data/row_store.h"
#include "models/model.h"

namespace sparrow::models {
namespace {

constexpr size_t kRows = 512;
constexpr uint32_t kFields = 8;

data::Batch MakeBatch() {
  const uint64_t vocab[kFields] = {10, 30, 100, 300, 1000, 5000, 20000, 100000};
  std::mt19937_64 rng(3);
  data::Batch b;
  b.has_fields = true;
  for (size_t r = 0; r < kRows; ++r) {
    for (uint32_t f = 0; f < kFields; ++f) {
      // Skewed ids within a field (a few common values), hashed apart from other fields.
      const uint64_t id = rng() % (1 + rng() % vocab[f]);
      b.keys.push_back((uint64_t{f} << 56) ^ (id * 0x9E3779B97F4A7C15ull >> 8));
      b.values.push_back(1.0f);
      b.fields.push_back(f);
    }
    b.row_offsets.push_back(b.keys.size());
    b.labels.push_back(rng() % 50 == 0 ? 1.0f : 0.0f);
    b.weights.push_back(1.0f);
    b.offsets.push_back(0.0f);
  }
  return b;
}

void BM_UniqueKeys(benchmark::State& state) {
  const data::Batch batch = MakeBatch();
  std::vector<uint64_t> unique;
  std::vector<uint32_t> slot;
  for (auto _ : state) {
    data::UniqueKeys(batch, &unique, &slot);
    benchmark::DoNotOptimize(unique.data());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.counters["unique_keys"] = static_cast<double>(unique.size());
}

// The same batch as key ids (data::RowStore): its distinct keys numbered in key order and
// spread over a universe of 40,000 ids, about talkingdata's keys per worker.
void BM_UniqueIds(benchmark::State& state) {
  constexpr uint32_t kUniverse = 40000;
  const data::Batch batch = MakeBatch();
  std::vector<uint64_t> keys;
  std::vector<uint32_t> slot;
  data::UniqueKeys(batch, &keys, &slot);
  std::vector<uint32_t> ids(slot.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<uint32_t>(uint64_t{slot[i]} * kUniverse / keys.size());
  }
  std::vector<uint32_t> unique;
  for (auto _ : state) {
    data::UniqueIds(ids.data(), ids.size(), kUniverse, &unique, &slot);
    benchmark::DoNotOptimize(unique.data());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.counters["unique_keys"] = static_cast<double>(unique.size());
}

// Packing a worker's shard into the row store (data::RowStore: Append every row, then
// Seal), as training does once: 80,000 rows shaped like MakeBatch's, ~34,000 distinct keys.
void BM_PackRows(benchmark::State& state) {
  const data::Batch one = MakeBatch();
  std::vector<uint64_t> vocab;
  std::vector<uint32_t> slot;
  data::UniqueKeys(one, &vocab, &slot);
  std::mt19937_64 rng(7);
  data::Batch shard;
  shard.has_fields = true;
  for (size_t r = 0; r < 80000; ++r) {
    const size_t src = rng() % kRows;
    shard.AppendRow(one, src);
    for (size_t i = shard.keys.size() - kFields; i < shard.keys.size(); ++i) {
      shard.keys[i] ^= (rng() % 17) << 40;  // ~17 variants of each key: ~34k distinct
    }
  }
  for (auto _ : state) {
    data::RowStore store(true);
    store.Reserve(shard.rows(), shard.nnz());
    for (size_t r = 0; r < shard.rows(); ++r) store.Append(shard, r);
    store.Seal();
    benchmark::DoNotOptimize(store.keys().data());
    state.counters["distinct_keys"] = static_cast<double>(store.keys().size());
  }
  state.SetItemsProcessed(state.iterations() * shard.rows());
}

void BM_ForwardBackward(benchmark::State& state) {
  ModelSpec spec;
  spec.kind = static_cast<ModelKind>(state.range(0));
  spec.k = static_cast<uint32_t>(state.range(1));
  spec.num_fields = kFields;
  const data::Batch batch = MakeBatch();
  std::vector<uint64_t> unique;
  std::vector<uint32_t> slot;
  data::UniqueKeys(batch, &unique, &slot);
  const size_t n = unique.size();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  std::vector<float> w(n), v(n * spec.FactorWidth()), gw(n), gv(v.size()), margins(kRows);
  for (float& x : w) x = u(rng);
  for (float& x : v) x = u(rng);
  Params p{w.data(), spec.FactorWidth() ? v.data() : nullptr, 0.0f};
  Grads g{gw.data(), spec.FactorWidth() ? gv.data() : nullptr, 0.0};
  Workspace ws;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        ForwardBackward(spec, batch, slot.data(), p, n, margins.data(), &g, &ws));
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.SetLabel(std::string(ModelKindName(spec.kind)) + " k=" + std::to_string(spec.k));
}

BENCHMARK(BM_UniqueKeys);
BENCHMARK(BM_UniqueIds);
BENCHMARK(BM_PackRows)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ForwardBackward)
    ->Args({static_cast<int>(ModelKind::kLR), 0})
    ->Args({static_cast<int>(ModelKind::kFM), 4})
    ->Args({static_cast<int>(ModelKind::kFFM), 4})
    ->Args({static_cast<int>(ModelKind::kFFM), 8})
    ->Args({static_cast<int>(ModelKind::kFFM), 6});  // generic (not specialised) k

}  // namespace
}  // namespace sparrow::models
