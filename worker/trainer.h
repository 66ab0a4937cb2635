// Trainer: the training loop of one worker.
//
// Reads this worker's shard of the training split into memory once (packed for random
// access: data/row_store.h), then for each epoch visits its rows in a fresh seeded order,
// in minibatches: dedupe keys -> pull "w", "v", "bias" -> ForwardBackward
// (models/model.h) -> push gradients, ending the step's clock.
// A step's push and a later step's pull travel together (PUSH_PULL), so a step costs one
// round trip per server; when prefetching, the next minibatch's rows are in flight while
// this one computes. Every worker takes the same number of steps per epoch (the largest
// shard's, agreed by a reducing barrier: Node::AllReduce), so the consistency clock never
// waits on a worker that has simply run out of rows.
//
// After each epoch (when configured) and at the end it scores its shard of the test
// split with the current weights and writes the scores to the run directory for the
// launcher. Rank 0 finally asks the servers to save their rows.
//
// Progress goes to stdout as single lines the launcher parses, and the same lines to
// <run_dir>/progress/worker-<rank>.txt (for `sparrow train --stage=finish`):
//   started unix_ms=T                  (first line: when this worker began)
//   progress epoch=E rows=N loss=L seconds=S
//   evaluated epoch=E split=test rows=N
//   validation epoch=E loss=L          (with a validation set; same on every worker)
//
// Early stopping: every worker computes the same cluster-wide validation loss (its
// partial sums reduced by the scheduler at a barrier, the same bits on every worker), so
// all of them decide to stop at the same epoch.
//
// Checkpoints (config `checkpoint`, checkpoint/checkpoint.h): at the end of an epoch,
// once every worker's pushes are applied and its test scores written (a barrier), rank 0
// has every server write its part and then writes the manifest, while the other workers
// wait at a second barrier, so the cut holds no push of a later epoch. The servers copy
// their tables and write them in the background: training waits only for the copies (the
// stall), and rank 0 writes the manifest on its own thread once every part is on disk,
// printing `checkpoint epoch=E seconds=S stall_seconds=T bytes=B`. A worker given a
// checkpoint (ResumeFrom) starts at the epoch after it, with its early-stopping state,
// appending to its progress file.
//
// Thread safety: Run() on one thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "data/batch.h"
#include "data/row_store.h"
#include "data/text_reader.h"
#include "experiment/experiment.h"
#include "models/model.h"
#include "worker/kv_client.h"

namespace sparrow::worker {

class Trainer {
 public:
  Trainer(cluster::Node* node, KVClient* kv, config::ExperimentConfig cfg,
          data::FeatureSpec features, std::string run_dir);
  ~Trainer();  // waits for a checkpoint being completed

  // Resume after the checkpoint in `dir` (whose rows the servers restore). Before Run().
  void ResumeFrom(std::string dir) { resume_dir_ = std::move(dir); }

  Status Run();

 private:
  struct Step;  // one minibatch and its pulled rows

  // Reads this worker's shard of `part` (or the test files, if `test` and the config has
  // them) and hands each non-empty batch to `take`, in file order.
  Status Load(data::SplitPart part, bool test, const data::BatchSink& take);
  // Reads the training split straight into store_ (sealed at the end), holding out the
  // validation rows into valid_: no copy of the data as read is kept, so a worker's peak
  // memory is the packed rows, not those plus the reader's batches. *read_rows counts every
  // row read; *expected_keys estimates this shard's distinct keys, with slack.
  Status LoadTraining(size_t* read_rows, uint64_t* expected_keys);
  // Reserves store_ for this worker's share of the training files, estimated from the
  // `first` batch read (see the definition); no-op for small inputs.
  void ReserveForShard(const data::Batch& first);
  // Whether row `row` of the `batch`-th non-empty training batch is held out for
  // validation (validation_fraction of them, the same rows every run).
  bool HeldOut(uint32_t batch, uint32_t row) const;
  Status AgreeOnSteps(size_t my_steps, size_t* steps);
  Status TrainEpoch(int epoch);
  // Runs steps first, first + stride, ... of the epoch whose row order is `order`,
  // adding to *loss and *weight. One call per training thread.
  Status RunSteps(const std::vector<uint32_t>& order, size_t first, size_t stride,
                  models::Workspace* ws, double* loss, double* weight);
  // Fills s->batch with rows [step * batch_size, ...) of `order` and dedupes their keys
  // into s->unique and s->slot; false (and no batch) when the step is past this worker's
  // rows.
  bool Prepare(const std::vector<uint32_t>& order, size_t step, Step* s);
  // The pull of every table for s->unique, into s's buffers.
  std::vector<PullSlice> PullSlices(Step* s);
  void StartPull(Step* s);
  Status FinishPull(Step* s);
  // Forward/backward over a pulled step; returns the push of its gradients.
  std::vector<PushSlice> ComputeStep(Step* s, models::Workspace* ws, double* loss, double* weight);
  Status Evaluate(int epoch);
  // Scores `batches` with the current weights.
  Status ScoreBatches(const std::vector<data::Batch>& batches, std::vector<models::Scored>* out);
  // Mean validation loss over every worker (summed at a reducing barrier).
  Status ValidationLoss(int epoch, double* loss);
  // After epoch `epoch`: takes a checkpoint when the config says one is due (rank 0
  // decides and writes; every worker waits at the barrier after it).
  Status MaybeCheckpoint(int epoch, double best, uint32_t since_best);
  // Rank 0, on writing_: waits until every server's part is on disk, then writes the
  // manifest, prunes old checkpoints and says `checkpoint ...`.
  Status CompleteCheckpoint(const std::string& dir, checkpoint::Manifest m, double stall,
                            std::chrono::steady_clock::time_point start);
  // Waits for the checkpoint being completed, if any; its outcome.
  Status FinishCheckpoint();

  // Prints one progress line to stdout and to the run directory's progress file.
  void Say(const char* format, ...) __attribute__((format(printf, 2, 3)));

  struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, CloseFile> progress_;
  cluster::Node* node_;
  KVClient* kv_;
  config::ExperimentConfig cfg_;
  data::FeatureSpec features_;
  experiment::RunDir dir_;
  models::ModelSpec spec_;
  std::vector<data::Batch> test_, valid_;
  data::RowStore store_;  // the training rows, packed
  size_t train_rows_ = 0, test_rows_ = 0;
  size_t steps_per_epoch_ = 0;
  std::string resume_dir_;
  std::chrono::steady_clock::time_point last_checkpoint_;  // or the start of training
  std::thread writing_;    // rank 0: completes the newest checkpoint (CompleteCheckpoint)
  Status writing_status_;  // its outcome, read after joining it
  std::mutex say_mu_;
  models::Workspace ws_;
};

}  // namespace sparrow::worker
