#include "data/row_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sparrow::data {
namespace {

// Rows of 0 to 11 non-zeros with distinct values everywhere.
Batch RandomRows(size_t rows, bool fields, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Batch b;
  b.has_fields = fields;
  for (size_t r = 0; r < rows; ++r) {
    const size_t nnz = rng() % 12;
    for (size_t j = 0; j < nnz; ++j) {
      b.keys.push_back(rng() % 4 == 0 ? rng() % 16 : rng());  // some keys repeat
      b.values.push_back(static_cast<float>(rng() % 1000) / 7.0f);
      if (fields) b.fields.push_back(static_cast<uint32_t>(rng() % 9));
    }
    b.row_offsets.push_back(b.keys.size());
    b.labels.push_back(static_cast<float>(rng() % 2));
    b.weights.push_back(1.0f + static_cast<float>(rng() % 3));
    b.offsets.push_back(-static_cast<float>(rng() % 5));
  }
  return b;
}

void GatherMatchesAppendRow(bool fields) {
  const Batch a = RandomRows(300, fields, 1), b = RandomRows(200, fields, 2);
  RowStore store(fields);
  store.Reserve(100, 300);  // less than needed: appending grows past it
  std::vector<std::pair<const Batch*, size_t>> where;
  for (const Batch* src : {&a, &b}) {
    for (size_t r = 0; r < src->rows(); ++r) {
      store.Append(*src, r);
      where.emplace_back(src, r);
    }
  }
  ASSERT_EQ(store.rows(), 500u);
  store.Seal();
  const std::vector<uint64_t>& keys = store.keys();
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_TRUE(std::adjacent_find(keys.begin(), keys.end()) == keys.end()) << "keys repeat";
  std::vector<uint32_t> order(store.rows());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(3));
  Batch got;
  std::vector<uint32_t> ids;
  for (size_t begin = 0; begin < order.size(); begin += 128) {  // the last gather is short
    const size_t n = std::min<size_t>(128, order.size() - begin);
    store.Gather(order.data() + begin, n, &got, &ids);
    EXPECT_TRUE(got.keys.empty());
    for (uint32_t id : ids) {
      ASSERT_LT(id, keys.size());
      got.keys.push_back(keys[id]);  // the keys, as the ids stand for them
    }
    Batch want;
    want.has_fields = fields;
    for (size_t i = 0; i < n; ++i)
      want.AppendRow(*where[order[begin + i]].first, where[order[begin + i]].second);
    ASSERT_TRUE(got.Valid());
    EXPECT_TRUE(got == want) << "rows from " << begin;
  }
}

TEST(RowStoreTest, GatherGivesTheRowsAsAppendRowWould) {
  GatherMatchesAppendRow(false);
}

TEST(RowStoreTest, GatherKeepsFields) {
  GatherMatchesAppendRow(true);
}

TEST(RowStoreTest, EmptyGather) {
  RowStore store;
  Batch b = RandomRows(3, false, 4);
  store.Append(b, 0);
  store.Seal();
  Batch got = b;
  std::vector<uint32_t> ids = {7};
  store.Gather(nullptr, 0, &got, &ids);
  EXPECT_TRUE(ids.empty());
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(got.row_offsets.size(), 1u);
  EXPECT_TRUE(got.keys.empty());
}

TEST(RowStoreTest, IdsFollowKeyOrderWhateverTheArrivalOrder) {
  Batch b;
  for (uint64_t k : {900ull, 5ull, ~0ull, 5ull, 0ull, 77ull}) {
    b.keys.push_back(k);
    b.values.push_back(1.0f);
  }
  b.row_offsets = {0, 3, 6};
  b.labels = {0, 1};
  b.weights = {1, 1};
  b.offsets = {0, 0};
  RowStore store;
  store.Append(b, 0);
  store.Append(b, 1);
  store.Seal();
  EXPECT_EQ(store.keys(), (std::vector<uint64_t>{0, 5, 77, 900, ~0ull}));
  Batch got;
  std::vector<uint32_t> ids;
  const uint32_t rows[] = {1, 0};
  store.Gather(rows, 2, &got, &ids);
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 0, 2, 3, 1, 4}));
  EXPECT_EQ(got.row_offsets, (std::vector<uint64_t>{0, 3, 6}));
  EXPECT_EQ(got.labels, (std::vector<float>{1, 0}));
}

}  // namespace
}  // namespace sparrow::data
