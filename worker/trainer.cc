#include "worker/trainer.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "data/batch_keys.h"
#include "data/distinct_keys.h"
#include "data/text_reader.h"

namespace sparrow::worker {

using experiment::kBiasKey;
using experiment::kBiasTable;
using experiment::kFactorTable;
using experiment::kLinearTable;

struct Trainer::Step {
  data::Batch batch;          // training: from the row store, keys as `ids`; scoring: a read batch
  std::vector<uint32_t> ids;  // the batch's key ids (data::RowStore)
  std::vector<uint32_t> unique_ids;  // their distinct values, ascending
  std::shared_ptr<std::vector<uint64_t>> unique = std::make_shared<std::vector<uint64_t>>();
  std::vector<uint32_t> slot;
  std::vector<float> w, v;
  float bias = 0;
  std::vector<float> margins;
  Ticket pull = 0;
  bool pending = false;  // `pull` is in flight
};

namespace {
const auto kBiasKeys = std::make_shared<const std::vector<uint64_t>>(1, kBiasKey);
}

Trainer::Trainer(cluster::Node* node, KVClient* kv, config::ExperimentConfig cfg,
                 data::FeatureSpec features, std::string run_dir)
    : node_(node), kv_(kv), cfg_(std::move(cfg)), features_(std::move(features)) {
  dir_.root = std::move(run_dir);
}

Status Trainer::Load(data::SplitPart part, bool test, const data::BatchSink& take) {
  const auto& d = cfg_.data();
  std::vector<std::string> files(test && d.test_size() ? d.test().begin() : d.train().begin(),
                                 test && d.test_size() ? d.test().end() : d.train().end());
  data::ReadOptions ro;
  ro.threads = static_cast<int>(cfg_.train().read_threads());
  ro.shard = node_->rank();
  ro.num_shards = node_->table().workers.size();
  ro.part = (test && d.test_size()) ? data::SplitPart::kAll : part;
  data::ReadStats stats;
  SPARROW_RETURN_IF_ERROR(data::ReadText(
      d, features_, files, ro,
      [&](const data::Batch& b) { return b.empty() ? Status::Ok() : take(b); }, &stats));
  if (stats.bad_lines > 0) {
    LOG(WARNING) << "skipped " << stats.bad_lines << " bad line(s); first: " << stats.first_bad;
  }
  return Status::Ok();
}

Status Trainer::AgreeOnSteps(size_t my_steps, size_t* steps) {
  std::vector<double> sums, maxima = {static_cast<double>(my_steps)};
  SPARROW_RETURN_IF_ERROR(node_->AllReduce(wire::WORKER, &sums, &maxima));
  *steps = static_cast<size_t>(maxima[0]);
  return Status::Ok();
}

std::vector<PullSlice> Trainer::PullSlices(Step* s) {
  const size_t n = s->unique->size();
  s->w.resize(n);
  // One message per server for every table of the model.
  std::vector<PullSlice> slices{{kLinearTable, s->unique, 1, s->w.data()},
                                {kBiasTable, kBiasKeys, 1, &s->bias}};
  if (spec_.FactorWidth() > 0) {
    s->v.resize(n * spec_.FactorWidth());
    slices.push_back({kFactorTable, s->unique, spec_.FactorWidth(), s->v.data()});
  }
  return slices;
}

void Trainer::StartPull(Step* s) {
  s->pull = kv_->Pull(PullSlices(s));
  s->pending = true;
}

Status Trainer::FinishPull(Step* s) {
  if (!s->pending) return Status::Ok();
  s->pending = false;
  return kv_->Wait(s->pull);
}

bool Trainer::Prepare(const std::vector<uint32_t>& order, size_t step, Step* s) {
  const size_t bs = cfg_.train().batch_size();
  const size_t begin = step * bs, end = std::min(order.size(), begin + bs);
  if (begin >= end) return false;
  store_.Gather(order.data() + begin, end - begin, &s->batch, &s->ids);
  data::UniqueIds(s->ids.data(), s->ids.size(), static_cast<uint32_t>(store_.keys().size()),
                  &s->unique_ids, &s->slot);
  s->unique->resize(s->unique_ids.size());
  const uint64_t* keys = store_.keys().data();
  for (size_t i = 0; i < s->unique_ids.size(); ++i) (*s->unique)[i] = keys[s->unique_ids[i]];
  return true;
}

std::vector<PushSlice> Trainer::ComputeStep(Step* s, models::Workspace* ws, double* loss,
                                            double* weight) {
  const size_t n = s->unique->size();
  s->margins.resize(s->batch.rows());
  auto grad_w = std::make_shared<std::vector<float>>(n);
  std::shared_ptr<std::vector<float>> grad_v;
  models::Grads g;
  g.w = grad_w->data();
  if (spec_.FactorWidth() > 0) {
    grad_v = std::make_shared<std::vector<float>>(n * spec_.FactorWidth());
    g.v = grad_v->data();
  }
  models::Params p;
  p.w = s->w.data();
  p.v = spec_.FactorWidth() > 0 ? s->v.data() : nullptr;
  p.bias = s->bias;
  *loss +=
      models::ForwardBackward(spec_, s->batch, s->slot.data(), p, n, s->margins.data(), &g, ws);
  for (float w : s->batch.weights) *weight += w;
  auto grad_b = std::make_shared<std::vector<float>>(1, static_cast<float>(g.bias));
  std::vector<PushSlice> slices{{kLinearTable, s->unique, grad_w, 1},
                                {kBiasTable, kBiasKeys, grad_b, 1}};
  if (grad_v) slices.push_back({kFactorTable, s->unique, grad_v, spec_.FactorWidth()});
  s->unique = std::make_shared<std::vector<uint64_t>>();  // the push holds the old one
  return slices;
}

Status Trainer::RunSteps(const std::vector<uint32_t>& order, size_t first, size_t stride,
                         models::Workspace* ws, double* loss, double* weight) {
  // Step t's push carries the pull of step t + depth (PUSH_PULL: one round trip a step).
  // Under BSP depth is 1: the pull is held until every worker has pushed step t. With a
  // delay bound, depth 2 lets step t+1's rows arrive while step t computes; its weights
  // then miss only this worker's own step t.
  const bool prefetch = cfg_.train().prefetch() && cfg_.cluster().max_delay() != 0;
  const size_t depth = prefetch ? 2 : 1;
  std::vector<Step> ring(depth + 1);
  std::vector<Ticket> pushes;  // pushes that carry no pull, awaited at the end
  // In-flight replies write into ring's buffers: wait for all of them on every way out.
  auto drain = [&](Status st) {
    for (Step& s : ring) {
      Status f = FinishPull(&s);
      if (st.ok()) st = f;
    }
    for (Ticket t : pushes) {
      Status f = kv_->Wait(t);
      if (st.ok()) st = f;
    }
    return st;
  };
  for (size_t d = 0; d < depth; ++d) {
    const size_t step = first + d * stride;
    if (step < steps_per_epoch_ && Prepare(order, step, &ring[d])) StartPull(&ring[d]);
  }
  const size_t bs = cfg_.train().batch_size();
  size_t turn = 0;
  for (size_t step = first; step < steps_per_epoch_; step += stride, ++turn) {
    Step& cur = ring[turn % ring.size()];
    // Past this worker's rows (its shard is smaller than the largest one): keep the clock
    // in step. Decided from the step number, not from cur: once the rows run out no later
    // step is prepared, so a ring slot can still hold a batch it already computed.
    if (step * bs >= order.size()) {
      kv_->Tick();
      continue;
    }
    // The later step's batch is gathered and deduped while this step's rows are still
    // in flight, so the push leaves as soon as the gradients exist. Its slot is the one
    // the previous step computed in: free.
    const size_t ahead = step + depth * stride;
    Step& next = ring[(turn + depth) % ring.size()];
    std::vector<PullSlice> pull;
    if (ahead < steps_per_epoch_ && Prepare(order, ahead, &next)) pull = PullSlices(&next);
    Status st = FinishPull(&cur);
    if (!st.ok()) return drain(st);
    std::vector<PushSlice> push = ComputeStep(&cur, ws, loss, weight);
    if (!pull.empty()) {
      next.pull = kv_->PushPull(std::move(push), std::move(pull), /*end_of_step=*/true);
      next.pending = true;
    } else {
      pushes.push_back(kv_->Push(std::move(push), /*end_of_step=*/true));
    }
  }
  return drain(Status::Ok());
}

Status Trainer::TrainEpoch(int epoch) {
  std::vector<uint32_t> order(store_.rows());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(cfg_.train().shuffle_seed() * 1000003 + epoch * 7919 + node_->rank());
  std::shuffle(order.begin(), order.end(), rng);

  const auto t0 = std::chrono::steady_clock::now();
  const size_t threads = std::max<uint32_t>(1, cfg_.train().threads());
  double loss = 0, weight = 0;
  if (threads == 1) {
    SPARROW_RETURN_IF_ERROR(RunSteps(order, 0, 1, &ws_, &loss, &weight));
  } else {
    // Thread t takes steps t, t + T, ...: asynchronous among themselves, like the
    // threads of one worker in DiFacto; the worker's clock counts every step.
    std::vector<double> losses(threads, 0), weights(threads, 0);
    std::vector<Status> status(threads);
    std::vector<models::Workspace> spaces(threads);
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) {
      pool.emplace_back(
          [&, t] { status[t] = RunSteps(order, t, threads, &spaces[t], &losses[t], &weights[t]); });
    }
    status[0] = RunSteps(order, 0, threads, &spaces[0], &losses[0], &weights[0]);
    for (auto& th : pool) th.join();
    for (size_t t = 0; t < threads; ++t) {
      SPARROW_RETURN_IF_ERROR(status[t]);
      loss += losses[t];
      weight += weights[t];
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Say("progress epoch=%d rows=%zu loss=%.9g seconds=%.6f", epoch, store_.rows(),
      weight > 0 ? loss / weight : 0.0, secs);
  return Status::Ok();
}

Status Trainer::ScoreBatches(const std::vector<data::Batch>& batches,
                             std::vector<models::Scored>* out) {
  Step s;
  std::vector<float> margins;
  for (const data::Batch& b : batches) {
    s.batch = b;
    s.unique = std::make_shared<std::vector<uint64_t>>();
    data::UniqueKeys(b, s.unique.get(), &s.slot);
    StartPull(&s);
    SPARROW_RETURN_IF_ERROR(FinishPull(&s));
    models::Params p;
    p.w = s.w.data();
    p.v = spec_.FactorWidth() > 0 ? s.v.data() : nullptr;
    p.bias = s.bias;
    margins.resize(b.rows());
    models::Forward(spec_, b, s.slot.data(), p, margins.data(), &ws_);
    for (size_t r = 0; r < b.rows(); ++r) {
      out->push_back({margins[r], b.labels[r], b.weights[r], b.offsets[r]});
    }
  }
  return Status::Ok();
}

Status Trainer::Evaluate(int epoch) {
  std::vector<models::Scored> out;
  out.reserve(test_rows_);
  SPARROW_RETURN_IF_ERROR(ScoreBatches(test_, &out));
  SPARROW_RETURN_IF_ERROR(experiment::WriteScores(dir_.Scores("test", epoch, node_->rank()), out));
  Say("evaluated epoch=%d split=test rows=%zu", epoch, out.size());
  return Status::Ok();
}

bool Trainer::HeldOut(uint32_t batch, uint32_t row) const {
  const double fraction = cfg_.train().validation_fraction();
  if (fraction <= 0) return false;
  // A hash of the row's place in this worker's shard: the same rows every run.
  uint64_t h = (static_cast<uint64_t>(node_->rank()) << 48) ^ (uint64_t{batch} << 24) ^ row;
  h = (h ^ (h >> 31)) * 0x7FB5D329728EA185ull;
  h ^= h >> 27;
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0) < fraction;
}

void Trainer::ReserveForShard(const data::Batch& first) {
  // A batch holds the rows of about chunk_bytes of text, so the shard's share of the
  // files' bytes, in chunks, times the first batch's rows and non-zeros sizes the store.
  // Compressed files are larger than they look: the store then grows by doubling.
  uint64_t bytes = 0;
  for (const std::string& f : cfg_.data().train()) {
    std::error_code ec;
    const uintmax_t n = std::filesystem::file_size(f, ec);
    if (!ec) bytes += n;
  }
  const double chunks = static_cast<double>(bytes) /
                        std::max<size_t>(1, node_->table().workers.size()) /
                        static_cast<double>(data::ReadOptions().chunk_bytes);
  if (chunks < 2) return;
  const double slack = 1.02;  // chunks are cut at line ends, so they run a little over
  store_.Reserve(static_cast<size_t>(chunks * slack * static_cast<double>(first.rows())),
                 static_cast<size_t>(chunks * slack * static_cast<double>(first.nnz())));
}

Status Trainer::LoadTraining(size_t* read_rows, uint64_t* expected_keys) {
  data::DistinctKeys distinct;
  data::Batch valid;
  uint32_t batch = 0;  // index of the non-empty batch, for HeldOut
  *read_rows = 0;
  SPARROW_RETURN_IF_ERROR(Load(data::SplitPart::kTrain, false, [&](const data::Batch& b) {
    SPARROW_RETURN_IF_ERROR(models::CheckBatch(spec_, b));
    if (batch == 0) {
      store_ = data::RowStore(b.has_fields);
      valid.has_fields = b.has_fields;
      ReserveForShard(b);
    }
    for (uint64_t k : b.keys) distinct.Add(k);
    for (uint32_t r = 0; r < b.rows(); ++r) {
      if (!HeldOut(batch, r)) {
        store_.Append(b, r);
        continue;
      }
      valid.AppendRow(b, r);
      if (valid.rows() == 4096) {
        valid_.push_back(valid);
        valid.Clear();
      }
    }
    *read_rows += b.rows();
    ++batch;
    return Status::Ok();
  }));
  if (!valid.empty()) valid_.push_back(valid);
  store_.Seal();
  train_rows_ = store_.rows();
  // Tables sized for this shard's keys (plus slack for the estimate's error) fill without
  // rehashing; other workers' shards add what they add.
  *expected_keys = distinct.Estimate() + distinct.Estimate() / 16;
  return Status::Ok();
}

Status Trainer::ValidationLoss(int epoch, double* loss) {
  std::vector<models::Scored> rows;
  SPARROW_RETURN_IF_ERROR(ScoreBatches(valid_, &rows));
  double sum = 0, weight = 0;
  for (const auto& r : rows) {
    sum += r.weight * models::Loss(spec_.objective, r.margin, r.label);
    weight += r.weight;
  }
  std::vector<double> total = {sum, weight}, none;
  SPARROW_RETURN_IF_ERROR(node_->AllReduce(wire::WORKER, &total, &none));
  *loss = total[1] > 0 ? total[0] / total[1] : 0;
  Say("validation epoch=%d loss=%.9g", epoch, *loss);
  return Status::Ok();
}

Status Trainer::MaybeCheckpoint(int epoch, double best, uint32_t since_best) {
  const auto& c = cfg_.checkpoint();
  if (c.every_epochs() == 0 || epoch % c.every_epochs() != 0) return Status::Ok();
  // Every worker has scored the epoch and said so: a checkpoint's epochs are whole in the
  // progress files the launcher replays on resume.
  SPARROW_RETURN_IF_ERROR(node_->Barrier(wire::WORKER));
  const auto now = std::chrono::steady_clock::now();
  if (node_->rank() == 0 &&
      std::chrono::duration<double>(now - last_checkpoint_).count() >= c.every_seconds()) {
    SPARROW_RETURN_IF_ERROR(FinishCheckpoint());  // the one before, if still being written
    const std::string dir = checkpoint::EpochDir(dir_.root, static_cast<uint32_t>(epoch));
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);  // a partial one from an earlier attempt
    std::filesystem::create_directories(dir, ec);
    if (ec) return Unavailable("cannot create " + dir + ": " + ec.message());
    std::vector<uint32_t> tables = {kLinearTable, kBiasTable};
    if (spec_.FactorWidth() > 0) tables.push_back(kFactorTable);
    SPARROW_RETURN_IF_ERROR(kv_->Checkpoint(dir, tables));  // the servers' copies are taken
    const double stall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - now).count();
    checkpoint::Manifest m;
    m.set_epoch(static_cast<uint32_t>(epoch));
    m.set_best_validation_loss(best);
    m.set_epochs_since_best(since_best);
    last_checkpoint_ = now;
    writing_ = std::thread(
        [this, dir, m, stall, now] { writing_status_ = CompleteCheckpoint(dir, m, stall, now); });
  }
  // Nobody pushes the next epoch's gradients before the servers copied their tables.
  return node_->Barrier(wire::WORKER);
}

Status Trainer::CompleteCheckpoint(const std::string& dir, checkpoint::Manifest m, double stall,
                                   std::chrono::steady_clock::time_point start) {
  for (;;) {
    SPARROW_ASSIGN_OR_RETURN(bool written, kv_->CheckpointWritten(dir));
    if (written) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  m.set_write_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  const int servers = static_cast<int>(node_->table().servers.size());
  SPARROW_RETURN_IF_ERROR(checkpoint::WriteManifest(dir, servers, m));
  uint64_t bytes = 0;
  std::error_code ec;
  for (int r = 0; r < servers; ++r) {
    bytes += std::filesystem::file_size(checkpoint::ServerPart(dir, r), ec);
  }
  checkpoint::Prune(dir_.root, cfg_.checkpoint().keep_last());
  Say("checkpoint epoch=%u seconds=%.6f stall_seconds=%.6f bytes=%llu", m.epoch(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), stall,
      static_cast<unsigned long long>(bytes));
  return Status::Ok();
}

Status Trainer::FinishCheckpoint() {
  if (!writing_.joinable()) return Status::Ok();
  writing_.join();
  return writing_status_;
}

Trainer::~Trainer() {
  if (writing_.joinable()) writing_.join();
}

void Trainer::Say(const char* format, ...) {
  std::lock_guard<std::mutex> lock(say_mu_);  // a checkpoint completes on its own thread
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof(line), format, args);
  va_end(args);
  std::printf("%s\n", line);
  std::fflush(stdout);
  if (progress_) {
    std::fprintf(progress_.get(), "%s\n", line);
    std::fflush(progress_.get());
  }
}

Status Trainer::Run() {
  {
    // The same lines go to the run directory, for runs no launcher watches.
    std::error_code ec;
    std::filesystem::create_directories(dir_.root + "/progress", ec);
    const std::string path = dir_.Progress(node_->rank());
    // Resuming, the lines of the epochs before the checkpoint stay (the launcher kept
    // only those).
    progress_.reset(std::fopen(path.c_str(), resume_dir_.empty() ? "w" : "a"));
    if (!progress_) return Unavailable("cannot write " + path);
    Say("started unix_ms=%lld", static_cast<long long>(cluster::UnixMs()));
  }
  SPARROW_ASSIGN_OR_RETURN(spec_, experiment::ModelSpecOf(cfg_, features_));
  const auto load_start = std::chrono::steady_clock::now();
  size_t read_rows = 0;
  uint64_t expected = 0;
  SPARROW_RETURN_IF_ERROR(LoadTraining(&read_rows, &expected));
  SPARROW_RETURN_IF_ERROR(Load(data::SplitPart::kTest, true, [&](const data::Batch& b) {
    SPARROW_RETURN_IF_ERROR(models::CheckBatch(spec_, b));
    test_.push_back(b);
    test_rows_ += b.rows();
    return Status::Ok();
  }));
  Say("loaded rows=%zu test_rows=%zu seconds=%.6f unix_ms=%lld", read_rows, test_rows_,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count(),
      static_cast<long long>(cluster::UnixMs()));
  for (const auto& t : experiment::TableSpecsOf(cfg_, spec_, expected)) {
    SPARROW_RETURN_IF_ERROR(kv_->CreateTable(t));
  }
  const size_t bs = cfg_.train().batch_size();
  SPARROW_RETURN_IF_ERROR(AgreeOnSteps((train_rows_ + bs - 1) / bs, &steps_per_epoch_));
  if (steps_per_epoch_ == 0) {  // every worker sees it: all of them stop with this error
    return InvalidArgument(
        "the training split is empty: no worker has a row to train on (check data.split and "
        "train.validation_fraction)");
  }
  LOG(INFO) << "worker " << node_->rank() << ": " << train_rows_ << " training rows, " << test_rows_
            << " test rows, " << steps_per_epoch_ << " steps per epoch";
  const int epochs = static_cast<int>(cfg_.train().epochs());
  const uint32_t patience = cfg_.train().early_stopping_rounds();
  double best = 0;
  uint32_t since_best = 0;
  int first = 1;
  if (!resume_dir_.empty()) {
    SPARROW_ASSIGN_OR_RETURN(checkpoint::Manifest m, checkpoint::ReadManifest(resume_dir_));
    first = static_cast<int>(m.epoch()) + 1;
    best = m.best_validation_loss();
    since_best = m.epochs_since_best();
    LOG(INFO) << "worker " << node_->rank() << ": resuming at epoch " << first << " from "
              << resume_dir_;
  }
  last_checkpoint_ = std::chrono::steady_clock::now();
  for (int e = first; e <= epochs; ++e) {
    SPARROW_RETURN_IF_ERROR(TrainEpoch(e));
    // Every worker's pushes of this epoch are applied before anyone scores.
    SPARROW_RETURN_IF_ERROR(node_->Barrier(wire::WORKER));
    bool stop = false;
    if (cfg_.train().validation_fraction() > 0) {  // every worker takes part
      double loss;
      SPARROW_RETURN_IF_ERROR(ValidationLoss(e, &loss));
      if (e == 1 || loss < best) {
        best = loss;
        since_best = 0;
      } else {
        ++since_best;
      }
      stop = patience > 0 && since_best >= patience;
    }
    if (cfg_.train().evaluate_every_epoch() || e == epochs || stop) {
      SPARROW_RETURN_IF_ERROR(Evaluate(e));
    }
    if (stop) {
      Say("stopped epoch=%d", e);
      break;
    }
    if (e < epochs) SPARROW_RETURN_IF_ERROR(MaybeCheckpoint(e, best, since_best));
  }
  SPARROW_RETURN_IF_ERROR(FinishCheckpoint());
  SPARROW_RETURN_IF_ERROR(node_->Barrier(wire::WORKER));
  if (node_->rank() == 0) {
    SPARROW_ASSIGN_OR_RETURN(auto stats, kv_->Stats());
    uint64_t keys = 0, bytes = 0;
    for (const auto& t : stats) {
      if (t.table() == kLinearTable || t.table() == kFactorTable) {
        keys = std::max<uint64_t>(keys, t.keys());
        bytes += t.bytes();
      }
    }
    Say("tables keys=%llu bytes=%llu unix_ms=%lld", static_cast<unsigned long long>(keys),
        static_cast<unsigned long long>(bytes), static_cast<long long>(cluster::UnixMs()));
    const auto save_start = std::chrono::steady_clock::now();
    SPARROW_RETURN_IF_ERROR(kv_->Save(dir_.ModelPartsPrefix()));
    Say("saved seconds=%.6f unix_ms=%lld",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - save_start).count(),
        static_cast<long long>(cluster::UnixMs()));
  }
  return Status::Ok();
}

}  // namespace sparrow::worker
