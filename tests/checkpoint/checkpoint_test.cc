// Checkpoints on disk: the manifest, finding the newest usable checkpoint past corrupt
// and partial ones, pruning; and a server's part written from tables and restored into
// tables of other key ranges (real files in a temporary directory).
#include "checkpoint/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "server/checkpoint_part.h"
#include "server/table.h"

namespace sparrow {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    run_ = (fs::temp_directory_path() / ("sparrow-ckpt-" + std::to_string(getpid()))).string();
    fs::remove_all(run_);
  }
  void TearDown() override { fs::remove_all(run_); }

  static wire::TableSpec Spec(uint32_t id, wire::OptimizerKind opt, uint32_t width,
                              uint32_t min_count = 0) {
    wire::TableSpec s;
    s.set_id(id);
    s.set_name("t" + std::to_string(id));
    s.set_width(width);
    s.set_optimizer(opt);
    s.set_learning_rate(0.1f);
    s.set_init_scale(0.01f);
    s.set_min_count(min_count);
    return s;
  }

  // A table with `n` keys pushed a few times each (some only once, for min_count).
  static std::unique_ptr<server::Table> Filled(const wire::TableSpec& spec, size_t n,
                                               uint64_t seed) {
    auto t = server::Table::Create(spec, 0, 0, ~0ull, /*parts=*/3).value();
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> keys(n);
    for (auto& k : keys) k = rng();
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::vector<float> g(keys.size() * spec.width());
    for (int round = 0; round < 3; ++round) {
      for (auto& x : g) x = static_cast<float>(static_cast<int64_t>(rng() % 200) - 100) / 100;
      const size_t m = round == 2 ? keys.size() / 2 : keys.size();  // the rest pushed twice
      t->Push(keys.data(), g.data(), m);
    }
    return t;
  }

  // A directory holding a complete checkpoint of `tables` written as `servers` parts
  // (server r takes the r-th range of the key space).
  void WriteCheckpoint(uint32_t epoch, const std::vector<const server::Table*>& tables) {
    const std::string dir = checkpoint::EpochDir(run_, epoch);
    fs::create_directories(dir);
    uint64_t bytes;
    std::vector<server::TableSnapshot> snapshots;
    for (const server::Table* t : tables) snapshots.push_back(server::Snapshot(*t));
    ASSERT_TRUE(
        server::WriteCheckpointPart(checkpoint::ServerPart(dir, 0), snapshots, &bytes).ok());
    checkpoint::Manifest m;
    m.set_epoch(epoch);
    m.set_best_validation_loss(0.25);
    m.set_epochs_since_best(1);
    ASSERT_TRUE(checkpoint::WriteManifest(dir, 1, m).ok());
  }

  std::string run_;
};

void ExpectSameState(const server::Table& a, const server::Table& b) {
  ASSERT_EQ(a.Keys(), b.Keys());
  for (uint64_t k : a.Keys()) {
    const float *x = a.Row(k), *y = b.Row(k);
    for (uint32_t j = 0; j < a.row_floats(); ++j) ASSERT_EQ(x[j], y[j]) << k << " " << j;
  }
  ASSERT_EQ(a.PendingKeys(), b.PendingKeys());
  for (uint64_t k : a.PendingKeys()) ASSERT_EQ(a.PendingCount(k), b.PendingCount(k));
}

TEST_F(CheckpointTest, PartRestoresEveryRowWithItsOptimizerStateAcrossKeyRanges) {
  const auto ftrl = Filled(Spec(0, wire::FTRL, 1), 5000, 1);
  const auto adam = Filled(Spec(1, wire::ADAM, 4), 3000, 2);
  const auto admitted = Filled(Spec(2, wire::ADAGRAD, 2, /*min_count=*/3), 2000, 3);
  ASSERT_GT(admitted->PendingKeys().size(), 0u);  // keys pushed twice wait for a third
  WriteCheckpoint(4, {ftrl.get(), adam.get(), admitted.get()});
  auto found = checkpoint::FindNewest(run_);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->manifest.epoch(), 4u);
  EXPECT_EQ(found->manifest.best_validation_loss(), 0.25);
  EXPECT_EQ(found->manifest.epochs_since_best(), 1u);

  // Restored by two servers of half the key space each, the union is the original.
  std::map<uint32_t, std::unique_ptr<server::Table>> low, high;
  auto into = [](std::map<uint32_t, std::unique_ptr<server::Table>>* tables, uint64_t b,
                 uint64_t e) {
    return [tables, b, e](const wire::TableSpec& s) -> Result<server::Table*> {
      auto& t = (*tables)[s.id()];
      if (!t) {
        SPARROW_ASSIGN_OR_RETURN(t, server::Table::Create(s, 0, b, e, 2));
      }
      return t.get();
    };
  };
  const uint64_t mid = uint64_t{1} << 63;
  ASSERT_TRUE(server::RestoreCheckpoint(found->dir, 0, mid - 1, into(&low, 0, mid - 1)).ok());
  ASSERT_TRUE(server::RestoreCheckpoint(found->dir, mid, ~0ull, into(&high, mid, ~0ull)).ok());
  for (const server::Table* original : {ftrl.get(), adam.get(), admitted.get()}) {
    const uint32_t id = original->spec().id();
    auto whole = server::Table::Create(original->spec(), 0).value();
    for (auto* half : {low[id].get(), high[id].get()}) {
      EXPECT_EQ(half->spec().SerializeAsString(), original->spec().SerializeAsString());
      for (uint64_t k : half->Keys()) whole->RestoreRow(k, half->Row(k));
      for (uint64_t k : half->PendingKeys()) whole->RestoreCount(k, half->PendingCount(k));
    }
    ExpectSameState(*original, *whole);
  }
  // And a restored table trains on exactly as the original does.
  auto again = server::Table::Create(ftrl->spec(), 0).value();
  for (auto* half : {low[0].get(), high[0].get()}) {
    for (uint64_t k : half->Keys()) again->RestoreRow(k, half->Row(k));
  }
  const std::vector<uint64_t> keys = ftrl->Keys();
  const std::vector<float> g(keys.size(), 0.5f);
  ftrl->Push(keys.data(), g.data(), keys.size());
  again->Push(keys.data(), g.data(), keys.size());
  ExpectSameState(*ftrl, *again);
}

TEST_F(CheckpointTest, NewestUsableCheckpointSkipsCorruptTruncatedAndUnfinishedOnes) {
  const auto t = Filled(Spec(0, wire::ADAGRAD, 3), 4000, 7);
  for (uint32_t e = 1; e <= 4; ++e) WriteCheckpoint(e, {t.get()});
  // Epoch 5 was being written when the run died: parts, no manifest.
  fs::create_directories(checkpoint::EpochDir(run_, 5));
  fs::copy_file(checkpoint::ServerPart(checkpoint::EpochDir(run_, 4), 0),
                checkpoint::ServerPart(checkpoint::EpochDir(run_, 5), 0));
  // Epoch 4: one bit flipped in the rows. Epoch 3: the part cut short.
  {
    std::fstream f(checkpoint::ServerPart(checkpoint::EpochDir(run_, 4), 0),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3000);
    char c;
    f.read(&c, 1);
    c ^= 0x10;
    f.seekp(3000);
    f.write(&c, 1);
  }
  const std::string part3 = checkpoint::ServerPart(checkpoint::EpochDir(run_, 3), 0);
  fs::resize_file(part3, fs::file_size(part3) / 2);

  auto found = checkpoint::FindNewest(run_);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->manifest.epoch(), 2u);
  ASSERT_EQ(found->skipped.size(), 3u);
  EXPECT_NE(found->skipped[0].find("epoch-000005 is not a usable checkpoint: "), std::string::npos)
      << found->skipped[0];
  EXPECT_NE(found->skipped[0].find("no manifest"), std::string::npos) << found->skipped[0];
  EXPECT_NE(found->skipped[1].find("CRC mismatch"), std::string::npos) << found->skipped[1];
  EXPECT_NE(found->skipped[2].find("bytes, the manifest says"), std::string::npos)
      << found->skipped[2];

  // A manifest cut short is no manifest either.
  const std::string manifest = checkpoint::EpochDir(run_, 2) + "/MANIFEST";
  fs::resize_file(manifest, fs::file_size(manifest) - 1);
  found = checkpoint::FindNewest(run_);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->manifest.epoch(), 1u);
  EXPECT_NE(found->skipped.back().find("truncated manifest"), std::string::npos);
}

TEST_F(CheckpointTest, NoCheckpointIsNotFoundSayingWhy) {
  auto found = checkpoint::FindNewest(run_);
  EXPECT_EQ(found.status().code(), Code::kNotFound);
  EXPECT_NE(found.status().message().find("no complete checkpoint under " + run_),
            std::string::npos);
}

TEST_F(CheckpointTest, PruneKeepsTheNewestCompleteOnesAndOneBeingWritten) {
  const auto t = Filled(Spec(0, wire::SGD, 1), 100, 9);
  for (uint32_t e = 1; e <= 5; ++e) WriteCheckpoint(e, {t.get()});
  fs::create_directories(checkpoint::EpochDir(run_, 6));  // in progress
  fs::create_directories(checkpoint::EpochDir(run_, 0));  // an old unfinished one
  checkpoint::Prune(run_, 2);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(checkpoint::Root(run_))) {
    left.push_back(e.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"epoch-000004", "epoch-000005", "epoch-000006"}));
}

}  // namespace
}  // namespace sparrow
