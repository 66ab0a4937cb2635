#include "model_file/model_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace sparrow::model_file {
namespace {

namespace fs = std::filesystem;

std::string Path(const std::string& name) {
  return fs::temp_directory_path() / ("sparrow-mf-" + std::to_string(getpid()) + "-" + name);
}

model::ModelHeader Header() {
  model::ModelHeader h;
  h.set_model_id("t");
  h.set_bias(-1.5f);
  auto* w = h.add_tables();
  w->set_name("w");
  w->set_width(1);
  w->set_rows(3);
  auto* v = h.add_tables();
  v->set_name("v");
  v->set_width(2);
  v->set_rows(2);
  return h;
}

Status WriteSample(const std::string& path) {
  SPARROW_ASSIGN_OR_RETURN(auto w, ModelWriter::Open(path, Header()));
  const uint64_t k1[] = {1, 5, 9};
  const float w1[] = {0.5f, -1, 2};
  SPARROW_RETURN_IF_ERROR(w->Append(k1, w1, 3));
  const uint64_t k2[] = {5, 7};
  const float w2[] = {1, 2, 3, 4};
  SPARROW_RETURN_IF_ERROR(w->Append(k2, w2, 2));
  return w->Commit();
}

TEST(ModelFileTest, RoundTrip) {
  const std::string p = Path("rt");
  ASSERT_TRUE(WriteSample(p).ok());
  auto m = ReadModel(p);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->header.bias(), -1.5f);
  ASSERT_EQ(m->tables.size(), 2u);
  EXPECT_EQ(m->tables[0].keys, (std::vector<uint64_t>{1, 5, 9}));
  EXPECT_EQ(m->tables[1].weights, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_FALSE(fs::exists(p + ".tmp-" + std::to_string(getpid())));
  fs::remove(p);
}

TEST(ModelFileTest, ReaderGivesTheRowsChunkByChunkThenChecksTheCrc) {
  const std::string p = Path("chunks");
  ASSERT_TRUE(WriteSample(p).ok());
  auto r = ModelReader::Open(p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<uint64_t> keys, all_keys;
  std::vector<float> weights, all_weights;
  std::vector<size_t> chunks;
  for (int t = 0; t < 2; ++t) {
    EXPECT_EQ((*r)->table(), static_cast<size_t>(t));
    for (;;) {
      auto n = (*r)->Next(2, &keys, &weights);  // chunks of 2 rows: tables of 3 and 2
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) break;
      chunks.push_back(*n);
      all_keys.insert(all_keys.end(), keys.begin(), keys.end());
      all_weights.insert(all_weights.end(), weights.begin(), weights.end());
    }
  }
  EXPECT_EQ(chunks, (std::vector<size_t>{2, 1, 2}));
  EXPECT_EQ(all_keys, (std::vector<uint64_t>{1, 5, 9, 5, 7}));
  EXPECT_EQ(all_weights, (std::vector<float>{0.5f, -1, 2, 1, 2, 3, 4}));
  EXPECT_TRUE((*r)->Finish().ok());

  // Finishing early is the caller's mistake, not corruption.
  auto early = ModelReader::Open(p);
  ASSERT_TRUE(early.ok());
  EXPECT_EQ((*early)->Finish().code(), Code::kFailedPrecondition);
  fs::remove(p);
}

TEST(ModelFileTest, EveryTruncationIsDataLoss) {
  const std::string p = Path("full"), q = Path("cut");
  ASSERT_TRUE(WriteSample(p).ok());
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string bytes = ss.str();
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::ofstream(q, std::ios::binary | std::ios::trunc) << bytes.substr(0, n);
    auto m = ReadModel(q);
    ASSERT_FALSE(m.ok()) << "cut at " << n;
    EXPECT_EQ(m.status().code(), Code::kDataLoss) << m.status().ToString();
  }
  // One flipped bit anywhere after the magic: rejected.
  for (size_t i = 8; i < bytes.size(); i += 7) {
    std::string b = bytes;
    b[i] ^= 0x10;
    std::ofstream(q, std::ios::binary | std::ios::trunc) << b;
    EXPECT_FALSE(ReadModel(q).ok()) << "flip at " << i;
  }
  fs::remove(p);
  fs::remove(q);
}

TEST(ModelFileTest, WriterRefusesWrongCountsAndOrderAndKeepsTheOldFile) {
  const std::string p = Path("keep");
  ASSERT_TRUE(WriteSample(p).ok());
  {
    auto w = ModelWriter::Open(p, Header());
    ASSERT_TRUE(w.ok());
    const uint64_t k[] = {3, 2};
    const float v[] = {1, 1};
    EXPECT_FALSE((*w)->Append(k, v, 2).ok());  // descending keys
    EXPECT_FALSE((*w)->Commit().ok());         // and too few rows
  }
  EXPECT_TRUE(ReadModel(p).ok());  // the earlier file is untouched
  fs::remove(p);
}

}  // namespace
}  // namespace sparrow::model_file
