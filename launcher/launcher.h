// The `sparrow train` launcher: one config, one command, a whole local cluster.
//
// Prepare() reads the config (with overrides), resolves the feature spec on the training
// split, and writes config.pbtxt and feature_spec.pbtxt into the run directory. With
// `resume` it continues a run instead: the run directory's own config and spec, and its
// newest complete checkpoint (checkpoint/checkpoint.h), whose epochs' progress it
// replays so metrics.json and the report cover the whole run. Run()
// starts 1 scheduler (in this process), S servers and W workers (child processes), turns
// the workers' progress lines into a progress line per epoch (examples/s, loss, test
// metric, ETA), and once the cluster has ended merges the servers' parts into the model
// file, computes the test metrics exactly from the workers' scores, and writes
// metrics.json and report.html.
//
// When an orchestrator places the processes on many machines instead, Prepare() writes
// the run directory, the orchestrator starts `sparrow scheduler`, `sparrow server` and
// `sparrow worker --task=train --run_dir=DIR` wherever it likes, and Finish() then does
// what Run() does after the cluster ends, from the files the nodes left in the run
// directory (progress lines, scores, model parts): the directory must be on a file
// system every machine shares.
//
// A process of the cluster that dies (a signal ends it) costs a restart, not the run: every
// node is stopped and the cluster starts again from the newest checkpoint, up to
// cluster.max_restarts times; metrics.json lists the restarts.
//
// Thread safety: one thread; Interrupt() from any thread (Ctrl-C).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/experiment.h"
#include "launcher/local_cluster.h"
#include "models/metrics.h"

namespace sparrow::launcher {

struct LaunchOptions {
  std::string config_path;
  std::string out_dir;                 // overrides output.dir
  std::vector<std::string> overrides;  // "a.b=value"
  std::string binary;                  // the `sparrow` executable for the children
  bool progress = true;                // print a progress line per epoch to stdout
  // Continue the run in out_dir from its newest complete checkpoint (with the config and
  // feature spec it was started with); from the start if it has none.
  bool resume = false;
};

// A checkpoint taken during the run, as metrics.json reports it.
struct CheckpointRecord {
  int epoch = 0;
  double seconds = 0;        // to write every server's part and the manifest
  double stall_seconds = 0;  // of that, what training waited for (the tables' copies)
  uint64_t bytes = 0;        // the parts' size
};

struct EpochRecord {
  int epoch = 0;
  double train_loss = 0;
  uint64_t rows = 0;          // training rows the workers visited in the epoch, summed
  double examples_per_s = 0;  // training rows / slowest worker's epoch time
  double seconds = 0;
  double validation_loss = -1;  // mean loss on the held-out validation rows; -1: none
  nlohmann::json test;          // metrics on the test split after this epoch
};

class Launcher {
 public:
  explicit Launcher(LaunchOptions options);

  // Resolves the config and feature spec into the run directory; with options.resume,
  // reads them back from it instead and picks the checkpoint to continue from.
  Status Prepare();
  Status Run();
  // Instead of Prepare() + Run(), for a run directory whose cluster already ran (see
  // above): options.out_dir names it; the config is the one Prepare() wrote there.
  Status Finish();
  void Interrupt(const std::string& why);

  const experiment::RunDir& run_dir() const { return dir_; }
  const config::ExperimentConfig& config() const { return cfg_; }
  const nlohmann::json& metrics() const { return metrics_; }

 private:
  // Resuming (or restarting): finds the newest checkpoint, keeps the workers' progress
  // lines up to its epoch (dropping what ran after it), and brings the history to that
  // epoch: from this process's own records when `reuse_history` and it has every epoch,
  // else by replaying the progress lines.
  Status PrepareResume(bool reuse_history);
  // Runs the cluster once to its end; *died tells whether a process of it died (a signal
  // ended it), which is worth a restart, and *died_at when (Now()'s clock).
  Status RunCluster(bool* died, double* died_at);
  void OnWorkerLine(int worker, const std::string& line);
  void MaybeFinishEpoch(int epoch);
  Status MergeModel(uint64_t* rows);
  Result<models::Metrics> ScoreEpoch(int epoch);
  Status WriteOutputs(double wall_s);

  LaunchOptions options_;
  config::ExperimentConfig cfg_;
  data::FeatureSpec features_;
  models::ModelSpec spec_;
  experiment::RunDir dir_;
  std::string config_text_;
  std::mutex cluster_mu_;  // guards cluster_ against Interrupt() from another thread
  std::unique_ptr<launcher::LocalCluster> cluster_;
  std::atomic<bool> interrupted_{false};
  struct Restart {
    int from_epoch;           // epochs the checkpoint it resumed held (0: from the start)
    std::string reason;       // the death that caused it
    double at_s;              // seconds into the run when it was seen
    double recovered_s = -1;  // seconds into the run when every worker trains again
  };
  int loaded_since_restart_ = 0;  // workers whose data is loaded since the last restart
  std::vector<Restart> restarts_;

  std::mutex mu_;  // guards what worker reader threads update
  struct Partial {
    int progress = 0, evaluated = 0;
    double loss_sum = 0, rows = 0, max_seconds = 0;
    double validation_loss = -1;
  };
  std::vector<Partial> partial_;  // by epoch
  std::vector<EpochRecord> history_;
  std::vector<CheckpointRecord> checkpoints_;
  std::string resume_dir_;  // the checkpoint Run() continues from; "" from the start
  int resume_epoch_ = 0;    // epochs that checkpoint holds
  double table_keys_ = 0, table_bytes_ = 0;
  uint64_t peak_rss_server_ = 0, peak_rss_worker_ = 0;  // bytes, the largest of each role
  double started_s_ = 0;
  // Run() only: seconds from its start until the last worker reported each event, and
  // the launcher's own events; metrics.json's "timeline_s" shows where a run's time went.
  bool live_ = false;
  long long started_unix_ms_ = 0;
  std::map<std::string, double> timeline_;
  nlohmann::json metrics_;
  models::Metrics final_test_;  // of the last evaluated epoch
};

}  // namespace sparrow::launcher
