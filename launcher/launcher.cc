#include "launcher/launcher.h"

#include <glog/logging.h>
#include <google/protobuf/text_format.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include "checkpoint/checkpoint.h"
#include "cluster/node.h"
#include "core/hash.h"
#include "data/feature_spec.h"
#include "launcher/cluster_keys.h"
#include "launcher/evaluation.h"
#include "model_file/model_file.h"

namespace sparrow::launcher {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string TextOf(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::TextFormat::PrintToString(m, &out);
  return out;
}

// "key=value key=value" after a leading word.
std::map<std::string, std::string> Fields(const std::string& line) {
  std::map<std::string, std::string> f;
  std::istringstream in(line);
  std::string w;
  in >> w;
  while (in >> w) {
    const size_t eq = w.find('=');
    if (eq != std::string::npos) f[w.substr(0, eq)] = w.substr(eq + 1);
  }
  return f;
}

std::string Hms(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.0fs", s);
  } else {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  }
  return buf;
}

Status MakeRunDirs(const experiment::RunDir& dir) {
  std::error_code ec;
  for (const std::string& d : {dir.root, dir.root + "/scores", dir.root + "/parts", dir.Logs()}) {
    std::filesystem::create_directories(d, ec);
    if (ec) return Unavailable("cannot create " + d + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace

Launcher::Launcher(LaunchOptions options) : options_(std::move(options)) {}

Status Launcher::Prepare() {
  if (options_.resume) {
    if (options_.out_dir.empty()) return InvalidArgument("--resume needs the run's --out=DIR");
    dir_.root = options_.out_dir;
    if (std::filesystem::exists(dir_.Config())) {
      SPARROW_RETURN_IF_ERROR(experiment::LoadRunDir(dir_, &cfg_, &features_));
      SPARROW_ASSIGN_OR_RETURN(spec_, experiment::ModelSpecOf(cfg_, features_));
      config_text_ = TextOf(cfg_);
      partial_.assign(cfg_.train().epochs() + 1, Partial());
      SPARROW_RETURN_IF_ERROR(MakeRunDirs(dir_));
      return PrepareResume(/*reuse_history=*/false);
    }
    // Killed before it wrote its run directory: nothing to resume, start it.
    std::printf("resume: %s holds no run yet; starting it\n", dir_.root.c_str());
  }
  SPARROW_ASSIGN_OR_RETURN(cfg_,
                           experiment::LoadExperiment(options_.config_path, options_.overrides));
  if (!options_.out_dir.empty()) cfg_.mutable_output()->set_dir(options_.out_dir);
  dir_.root = cfg_.output().dir();
  SPARROW_RETURN_IF_ERROR(MakeRunDirs(dir_));
  auto features = data::ResolveFeatureSpec(cfg_.data());
  if (!features.ok()) return features.status().WithContext(options_.config_path);
  features_ = std::move(features).value();
  SPARROW_ASSIGN_OR_RETURN(spec_, experiment::ModelSpecOf(cfg_, features_));
  config_text_ = TextOf(cfg_);
  SPARROW_RETURN_IF_ERROR(experiment::WriteTextFile(dir_.Config(), config_text_));
  SPARROW_RETURN_IF_ERROR(experiment::WriteTextFile(dir_.Features(), TextOf(features_)));
  partial_.assign(cfg_.train().epochs() + 1, Partial());
  return Status::Ok();
}

Status Launcher::PrepareResume(bool reuse_history) {
  resume_dir_.clear();
  resume_epoch_ = 0;
  auto found = checkpoint::FindNewest(dir_.root);
  if (found.ok()) {
    for (const auto& s : found->skipped) std::printf("resume: %s\n", s.c_str());
    resume_dir_ = found->dir;
    resume_epoch_ = static_cast<int>(found->manifest.epoch());
  } else {
    std::printf("resume: %s; training from the start\n", found.status().message().c_str());
  }
  std::fflush(stdout);
  // What ran after the checkpoint will run again: forget it. The epochs before it are
  // kept as this process recorded them, when it has each of them (a restart): scoring
  // them again from their score files would delay the restart by a pass over the test
  // split per epoch. Else they are replayed from the progress files.
  bool replay = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto after = [&](const auto& r) { return r.epoch > resume_epoch_; };
    std::erase_if(history_, after);
    std::erase_if(checkpoints_, after);
    replay = !reuse_history || history_.size() != static_cast<size_t>(resume_epoch_);
    if (replay) {
      history_.clear();
      checkpoints_.clear();
    }
    for (size_t e = 0; e < partial_.size(); ++e) {
      if (replay || static_cast<int>(e) > resume_epoch_) partial_[e] = Partial();
    }
  }
  if (!found.ok()) {
    for (uint32_t w = 0; w < cfg_.cluster().workers(); ++w) {
      SPARROW_RETURN_IF_ERROR(experiment::WriteTextFile(dir_.Progress(w), ""));
    }
    return Status::Ok();
  }
  // Keep each worker's lines of the epochs the checkpoint holds.
  const bool progress = options_.progress;
  options_.progress = false;
  for (uint32_t w = 0; w < cfg_.cluster().workers(); ++w) {
    auto text = experiment::ReadTextFile(dir_.Progress(w));
    std::string kept;
    if (text.ok()) {
      std::istringstream in(*text);
      std::string line;
      while (std::getline(in, line)) {
        auto f = Fields(line);
        if (!f.count("epoch") || std::atoi(f["epoch"].c_str()) > resume_epoch_) continue;
        kept += line + "\n";
        if (replay) OnWorkerLine(static_cast<int>(w), line);
      }
    }
    SPARROW_RETURN_IF_ERROR(experiment::WriteTextFile(dir_.Progress(w), kept));
  }
  options_.progress = progress;
  std::printf("resume: continuing after epoch %d from %s\n", resume_epoch_, resume_dir_.c_str());
  std::fflush(stdout);
  return Status::Ok();
}

void Launcher::Interrupt(const std::string& why) {
  interrupted_.store(true);
  std::lock_guard<std::mutex> lock(cluster_mu_);
  if (cluster_) cluster_->RequestShutdown(why);
}

void Launcher::OnWorkerLine(int worker, const std::string& line) {
  auto f = Fields(line);
  std::lock_guard<std::mutex> lock(mu_);
  if (live_ && f.count("unix_ms")) {
    // Stamped by the worker, not when read here: this thread may be scoring an epoch.
    static const std::map<std::string, std::string> kEvents = {{"started", "workers_started"},
                                                               {"loaded", "data_loaded"},
                                                               {"tables", "training_done"},
                                                               {"saved", "model_saved"}};
    auto e = kEvents.find(line.substr(0, line.find(' ')));
    if (e != kEvents.end()) {
      const double t = (std::atoll(f.at("unix_ms").c_str()) - started_unix_ms_) / 1000.0;
      timeline_[e->second] = std::max(timeline_[e->second], t);
    }
  }
  if (line.rfind("loaded ", 0) == 0 && !restarts_.empty() && restarts_.back().recovered_s < 0 &&
      ++loaded_since_restart_ == static_cast<int>(cfg_.cluster().workers())) {
    restarts_.back().recovered_s = Now() - started_s_;  // they train from here on
    if (options_.progress) {
      std::printf("training again %.2f s after the death\n",
                  restarts_.back().recovered_s - restarts_.back().at_s);
      std::fflush(stdout);
    }
  }
  const int epoch = f.count("epoch") ? std::atoi(f.at("epoch").c_str()) : 0;
  if (line.rfind("progress ", 0) == 0 && epoch > 0 && epoch < (int)partial_.size()) {
    Partial& p = partial_[epoch];
    const double rows = std::atof(f.at("rows").c_str());
    p.loss_sum += std::atof(f.at("loss").c_str()) * rows;
    p.rows += rows;
    p.max_seconds = std::max(p.max_seconds, std::atof(f.at("seconds").c_str()));
    ++p.progress;
    if (!cfg_.train().evaluate_every_epoch() && epoch != (int)cfg_.train().epochs()) {
      p.evaluated = cfg_.cluster().workers();  // no scores to wait for
    }
    MaybeFinishEpoch(epoch);
  } else if (line.rfind("evaluated ", 0) == 0 && epoch > 0 && epoch < (int)partial_.size()) {
    ++partial_[epoch].evaluated;
    MaybeFinishEpoch(epoch);
  } else if (line.rfind("validation ", 0) == 0 && epoch > 0 && epoch < (int)partial_.size()) {
    partial_[epoch].validation_loss = std::atof(f["loss"].c_str());  // same on every worker
  } else if (line.rfind("stopped ", 0) == 0 && options_.progress && worker == 0) {
    std::printf("early stop after epoch %d: validation loss has not improved for %u epoch(s)\n",
                epoch, cfg_.train().early_stopping_rounds());
    std::fflush(stdout);
  } else if (line.rfind("checkpoint ", 0) == 0) {
    CheckpointRecord c;
    c.epoch = epoch;
    c.seconds = std::atof(f["seconds"].c_str());
    c.stall_seconds = std::atof(f["stall_seconds"].c_str());
    c.bytes = std::strtoull(f["bytes"].c_str(), nullptr, 10);
    checkpoints_.push_back(c);
    if (options_.progress) {
      std::printf("checkpoint after epoch %d: %.1f MB in %.3f s, training waited %.3f s\n", epoch,
                  c.bytes / 1e6, c.seconds, c.stall_seconds);
      std::fflush(stdout);
    }
  } else if (line.rfind("tables ", 0) == 0) {
    table_keys_ = std::atof(f["keys"].c_str());
    table_bytes_ = std::atof(f["bytes"].c_str());
  }
}

void Launcher::MaybeFinishEpoch(int epoch) {
  Partial& p = partial_[epoch];
  const int w = static_cast<int>(cfg_.cluster().workers());
  if (p.progress < w || p.evaluated < w) return;
  p.progress = -1000;  // report once
  EpochRecord r;
  r.epoch = epoch;
  r.train_loss = p.rows > 0 ? p.loss_sum / p.rows : 0;
  r.rows = static_cast<uint64_t>(p.rows);
  r.seconds = p.max_seconds;
  r.validation_loss = p.validation_loss;
  r.examples_per_s = p.max_seconds > 0 ? p.rows / p.max_seconds : 0;
  if (cfg_.train().evaluate_every_epoch() || epoch == (int)cfg_.train().epochs()) {
    auto m = ScoreEpoch(epoch);
    if (m.ok()) {
      r.test = m->ToJson();
      final_test_ = std::move(m).value();
    } else {
      LOG(WARNING) << "epoch " << epoch << " scores: " << m.status().message();
    }
  }
  history_.push_back(r);
  if (options_.progress) {
    const double elapsed = Now() - started_s_;
    const int epochs = static_cast<int>(cfg_.train().epochs());
    const double eta = elapsed / std::max(1, epoch - resume_epoch_) * (epochs - epoch);
    std::string metric;
    if (r.validation_loss >= 0) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), ", validation loss %.5f", r.validation_loss);
      metric += buf;
    }
    for (const char* k : {"auc", "logloss", "poisson_deviance", "rmse"}) {
      if (r.test.contains(k)) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), " test %s %.4f", k, r.test[k].get<double>());
        metric += buf;
        if (metric.size() > 30) break;
      }
    }
    std::printf("epoch %d/%d: %.2fM examples/s, train loss %.5f%s, elapsed %s, ETA %s\n", epoch,
                epochs, r.examples_per_s / 1e6, r.train_loss, metric.c_str(), Hms(elapsed).c_str(),
                Hms(eta).c_str());
    std::fflush(stdout);
  }
}

Result<models::Metrics> Launcher::ScoreEpoch(int epoch) {
  std::vector<models::Scored> rows;
  for (uint32_t w = 0; w < cfg_.cluster().workers(); ++w) {
    SPARROW_RETURN_IF_ERROR(experiment::AppendScores(dir_.Scores("test", epoch, w), &rows));
  }
  return TestMetrics(spec_.objective, rows);
}

Status Launcher::Run() {
  started_s_ = Now();
  started_unix_ms_ = cluster::UnixMs();
  const uint32_t max_restarts = cfg_.cluster().max_restarts();
  for (uint32_t restart = 0;; ++restart) {
    bool died = false;
    double died_at = 0;
    Status st = RunCluster(&died, &died_at);
    if (st.ok()) break;
    st = st.WithContext("training failed (logs in " + dir_.Logs() + ")");
    if (!died || interrupted_.load() || restart >= max_restarts) return st;
    // A process died: roll every node back to the newest checkpoint (or the start) and
    // run the rest again. Nothing a dead node held is trusted; nothing is lost beyond
    // the epochs since that checkpoint.
    std::printf("%s\nrestarting the cluster (%u of at most %u)\n", st.message().c_str(),
                restart + 1, max_restarts);
    std::fflush(stdout);
    SPARROW_RETURN_IF_ERROR(PrepareResume(/*reuse_history=*/true));
    std::lock_guard<std::mutex> lock(mu_);
    restarts_.push_back({resume_epoch_, st.message(), died_at - started_s_});
    loaded_since_restart_ = 0;
  }
  timeline_["cluster_stopped"] = Now() - started_s_;
  uint64_t rows = 0;
  SPARROW_RETURN_IF_ERROR(MergeModel(&rows));
  timeline_["model_written"] = Now() - started_s_;
  return WriteOutputs(Now() - started_s_);
}

Status Launcher::RunCluster(bool* died, double* died_at) {
  launcher::LocalClusterOptions lo;
  lo.binary = options_.binary;
  lo.servers = cfg_.cluster().servers();
  lo.workers = cfg_.cluster().workers();
  lo.max_delay = cfg_.cluster().max_delay();
  lo.heartbeat_ms = cfg_.cluster().heartbeat_ms();
  lo.heartbeat_timeout_ms = cfg_.cluster().heartbeat_timeout_ms();
  lo.local_ipc = cfg_.cluster().local_ipc();
  SPARROW_ASSIGN_OR_RETURN(lo.curve_keys, RunCurveKeys(cfg_.cluster(), dir_.root, true));
  // Each server's request thread and each training thread wants a core of its own; beyond
  // the host's cores they time-share, and a server that gets part of a core slows every
  // worker it serves. Then no thread spins either: its spin would take a core another needs.
  const unsigned cores = std::thread::hardware_concurrency();
  const unsigned busy = lo.servers + lo.workers * std::max<uint32_t>(1, cfg_.train().threads());
  const bool crowded = cores > 0 && busy > cores;
  lo.poll_spin_us = crowded ? 0 : static_cast<int>(cfg_.cluster().poll_spin_us());
  lo.worker_args = {"--task=train", "--run_dir=" + dir_.root,
                    "--request_timeout_ms=" + std::to_string(cfg_.cluster().request_timeout_ms())};
  if (!resume_dir_.empty()) {
    lo.worker_args.push_back("--resume_from=" + resume_dir_);
    lo.server_args.push_back("--restore_from=" + resume_dir_);
  }
  lo.log_dir = dir_.Logs();
  lo.capture_worker_stdout = true;
  lo.on_worker_line = [this](int w, const std::string& line) { OnWorkerLine(w, line); };
  {
    std::lock_guard<std::mutex> lock(cluster_mu_);
    cluster_ = std::make_unique<launcher::LocalCluster>(lo);
  }
  live_ = true;
  if (options_.progress) {
    std::printf("training %s: %s, %u server(s), %u worker(s), logs in %s\n", cfg_.name().c_str(),
                models::ModelKindName(spec_.kind), lo.servers, lo.workers, dir_.Logs().c_str());
    if (crowded) {
      std::printf(
          "note: %u server(s) and %u training thread(s) time-share %u cores: a model "
          "whose servers need a core each may train no faster (README: Scaling)\n",
          lo.servers, busy - lo.servers, cores);
    }
    std::fflush(stdout);
  }
  SPARROW_RETURN_IF_ERROR(cluster_->Start());
  if (interrupted_.load()) cluster_->RequestShutdown("interrupted");
  launcher::LocalClusterResult r = cluster_->Wait();
  // A child ended by a signal died (a crash, the OOM killer, kill -9); one that exited
  // with a status said why itself, and running again would say the same.
  for (int e : r.server_exits) *died = *died || e < 0;
  for (int e : r.worker_exits) *died = *died || e < 0;
  *died_at = r.first_death
                 ? std::chrono::duration<double>(r.first_death->time_since_epoch()).count()
                 : Now();
  for (uint64_t b : r.server_peak_rss) peak_rss_server_ = std::max(peak_rss_server_, b);
  for (uint64_t b : r.worker_peak_rss) peak_rss_worker_ = std::max(peak_rss_worker_, b);
  if (!r.status.ok()) return r.status;
  for (size_t i = 0; i < r.worker_exits.size(); ++i) {
    if (r.worker_exits[i] != 0) {
      return Internal("worker " + std::to_string(i) + " ended with " +
                      process::DescribeExit(r.worker_exits[i]) + " (log: " + dir_.Logs() +
                      "/worker-" + std::to_string(i) + ".log)");
    }
  }
  return Status::Ok();
}

Status Launcher::Finish() {
  if (options_.out_dir.empty())
    return InvalidArgument("finishing a run needs its directory (--out)");
  dir_.root = options_.out_dir;
  SPARROW_RETURN_IF_ERROR(experiment::LoadRunDir(dir_, &cfg_, &features_));
  SPARROW_ASSIGN_OR_RETURN(spec_, experiment::ModelSpecOf(cfg_, features_));
  config_text_ = TextOf(cfg_);
  partial_.assign(cfg_.train().epochs() + 1, Partial());
  // Replay every worker's progress lines as if they had been read live.
  const bool progress = options_.progress;
  options_.progress = false;
  long long started_ms = -1;
  for (uint32_t w = 0; w < cfg_.cluster().workers(); ++w) {
    auto text = experiment::ReadTextFile(dir_.Progress(w));
    if (!text.ok()) {
      return text.status().WithContext("worker " + std::to_string(w) +
                                       " left no progress (did it run with --run_dir=" + dir_.root +
                                       " on a shared file system?)");
    }
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("started ", 0) == 0) {
        const long long t = std::atoll(Fields(line)["unix_ms"].c_str());
        if (started_ms < 0 || t < started_ms) started_ms = t;
      } else {
        OnWorkerLine(static_cast<int>(w), line);
      }
    }
  }
  options_.progress = progress;
  if (history_.empty()) {
    return FailedPrecondition(dir_.root + ": no epoch finished on every worker");
  }
  uint64_t rows = 0;
  SPARROW_RETURN_IF_ERROR(MergeModel(&rows));
  const long long now_ms = cluster::UnixMs();
  // From the first worker's start (not the cluster's: the orchestrator's business).
  return WriteOutputs(started_ms < 0 ? 0.0 : (now_ms - started_ms) / 1000.0);
}

namespace {

constexpr size_t kMergeChunk = 4096;  // rows per read: memory of a chunk, not of a model

// Reads every server's part (its tables in the same order: w, v, bias) table by
// table across parts, in server (= key) order: fn(name, width, keys, weights) per chunk.
// Every part's CRC is checked at the end. Memory: one chunk per part.
Status ForEachPartChunk(
    const std::vector<std::string>& paths,
    const std::function<Status(const model::TableInfo&, const std::vector<uint64_t>&,
                               const std::vector<float>&)>& fn) {
  std::vector<std::unique_ptr<model_file::ModelReader>> readers;
  for (const auto& p : paths) {
    SPARROW_ASSIGN_OR_RETURN(auto r, model_file::ModelReader::Open(p));
    if (!readers.empty() && r->header().tables_size() != readers[0]->header().tables_size()) {
      return DataLoss(p + ": its tables differ from " + paths[0] + "'s");
    }
    readers.push_back(std::move(r));
  }
  if (readers.empty()) return Status::Ok();
  std::vector<uint64_t> keys;
  std::vector<float> weights;
  for (int t = 0; t < readers[0]->header().tables_size(); ++t) {
    for (auto& r : readers) {
      const model::TableInfo& info = r->header().tables(t);
      if (info.name() != readers[0]->header().tables(t).name()) {
        return DataLoss("parts disagree on table " + std::to_string(t) + ": '" + info.name() +
                        "' and '" + readers[0]->header().tables(t).name() + "'");
      }
      for (;;) {
        SPARROW_ASSIGN_OR_RETURN(size_t n, r->Next(kMergeChunk, &keys, &weights));
        if (n == 0) break;
        SPARROW_RETURN_IF_ERROR(fn(info, keys, weights));
      }
    }
  }
  for (auto& r : readers) SPARROW_RETURN_IF_ERROR(r->Finish());
  return Status::Ok();
}

}  // namespace

Status Launcher::MergeModel(uint64_t* rows) {
  std::vector<std::string> paths;
  for (uint32_t s = 0; s < cfg_.cluster().servers(); ++s) {
    paths.push_back(dir_.ModelPartsPrefix() + ".part-" + std::to_string(s));
  }
  model::ModelHeader h;
  h.mutable_model()->CopyFrom(cfg_.model());
  *h.mutable_features() = features_;
  // The config without where this run happened to write: the same training gives the
  // same model file, byte for byte, wherever it ran.
  config::ExperimentConfig provenance = cfg_;
  provenance.clear_output();
  h.set_config_text(TextOf(provenance));
  h.set_num_fields(spec_.num_fields);
  // Pass 1, over every part (CRCs checked before anything is written): row counts, the
  // bias, and the model id, a hash of every row in file order.
  const auto scored = [](const std::string& name) { return name == "w" || name == "v"; };
  std::map<std::string, model::TableInfo> tables;  // w, v
  XXH3_state_t* hs = XXH3_createState();
  XXH3_64bits_reset(hs);
  Status st =
      ForEachPartChunk(paths, [&](const model::TableInfo& t, const std::vector<uint64_t>& keys,
                                  const std::vector<float>& weights) {
        if (t.name() == "bias") {
          h.set_bias(weights[0]);
        } else if (scored(t.name())) {
          auto& info = tables[t.name()];
          info.set_name(t.name());
          info.set_width(t.width());
          info.set_rows(info.rows() + keys.size());
          XXH3_64bits_update(hs, keys.data(), keys.size() * 8);
          XXH3_64bits_update(hs, weights.data(), weights.size() * 4);
        }
        return Status::Ok();
      });
  const float bias = h.bias();
  XXH3_64bits_update(hs, &bias, 4);
  char id[32];
  std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(XXH3_64bits_digest(hs)));
  XXH3_freeState(hs);
  SPARROW_RETURN_IF_ERROR(st);
  for (const char* name : {"w", "v"}) {
    if (!tables.count(name)) continue;
    auto* info = h.add_tables();
    *info = tables[name];
    info->set_id(std::string(name) == "w" ? experiment::kLinearTable : experiment::kFactorTable);
    *rows += info->rows();
  }
  // Deterministic: the same weights give the same file, byte for byte.
  h.set_model_id(cfg_.name() + "-" + std::string(id).substr(0, 12));
  // Pass 2: the rows again, into the model file (written to a temporary, then renamed).
  SPARROW_ASSIGN_OR_RETURN(auto writer, model_file::ModelWriter::Open(dir_.Model(), h));
  SPARROW_RETURN_IF_ERROR(
      ForEachPartChunk(paths, [&](const model::TableInfo& t, const std::vector<uint64_t>& keys,
                                  const std::vector<float>& weights) {
        return scored(t.name()) ? writer->Append(keys.data(), weights.data(), keys.size())
                                : Status::Ok();
      }));
  SPARROW_RETURN_IF_ERROR(writer->Commit());
  std::error_code ec;
  std::filesystem::remove_all(dir_.root + "/parts", ec);
  return Status::Ok();
}

Status Launcher::WriteOutputs(double wall_s) {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json j;
  j["name"] = cfg_.name();
  j["model"] = dir_.Model();
  j["model_kind"] = models::ModelKindName(spec_.kind);
  j["objective"] = models::ObjectiveName(spec_.objective);
  j["test"] = history_.empty() ? nlohmann::json::object() : history_.back().test;
  nlohmann::json hist = nlohmann::json::array();
  double eps_sum = 0;
  for (const auto& r : history_) {
    hist.push_back({{"epoch", r.epoch},
                    {"train_loss", r.train_loss},
                    {"rows", r.rows},
                    {"examples_per_s", r.examples_per_s},
                    {"seconds", r.seconds},
                    {"validation_loss", r.validation_loss >= 0 ? nlohmann::json(r.validation_loss)
                                                               : nlohmann::json(nullptr)},
                    {"test", r.test}});
    eps_sum += r.examples_per_s;
  }
  j["history"] = hist;
  j["examples_per_s"] = history_.empty() ? 0.0 : eps_sum / history_.size();
  j["wall_s"] = wall_s;
  if (!timeline_.empty()) j["timeline_s"] = timeline_;
  nlohmann::json ckpts = nlohmann::json::array();
  for (const auto& c : checkpoints_) {
    ckpts.push_back({{"epoch", c.epoch},
                     {"seconds", c.seconds},
                     {"stall_seconds", c.stall_seconds},
                     {"bytes", c.bytes}});
  }
  j["checkpoints"] = ckpts;
  nlohmann::json restarts = nlohmann::json::array();
  for (const auto& r : restarts_) {
    restarts.push_back({{"from_epoch", r.from_epoch},
                        {"reason", r.reason},
                        {"at_s", r.at_s},
                        {"recovery_s", r.recovered_s >= 0 ? r.recovered_s - r.at_s : -1}});
  }
  j["restarts"] = restarts;
  if (!resume_dir_.empty()) j["resumed_after_epoch"] = resume_epoch_;
  j["table_keys"] = table_keys_;
  j["keys_held"] = table_keys_;
  j["storage"] = "MEMORY";  // a worker holds its shard in its row store (data/row_store.h)
  // The largest of each role, in MB (ru_maxrss); the scheduler runs in this process. Only a
  // run this launcher started has them.
  if (peak_rss_worker_ > 0) {
    rusage self{};
    getrusage(RUSAGE_SELF, &self);
    j["peak_rss_mb"] = {{"scheduler", self.ru_maxrss / 1024.0},
                        {"server", peak_rss_server_ / 1048576.0},
                        {"worker", peak_rss_worker_ / 1048576.0}};
  }
  j["bytes_per_key"] = table_keys_ > 0 ? table_bytes_ / table_keys_ : 0.0;
  j["config"] = config_text_;
  metrics_ = j;
  SPARROW_RETURN_IF_ERROR(experiment::WriteTextFile(dir_.Metrics(), j.dump(2) + "\n"));
  SPARROW_RETURN_IF_ERROR(WriteRunReport(cfg_.name(), spec_.objective, final_test_, history_,
                                         config_text_, dir_.Report()));
  if (options_.progress) {
    std::printf("model: %s\nmetrics: %s\nreport: %s\n", dir_.Model().c_str(),
                dir_.Metrics().c_str(), dir_.Report().c_str());
    std::printf("test: %s\n", j["test"].dump().c_str());
  }
  return Status::Ok();
}

}  // namespace sparrow::launcher
