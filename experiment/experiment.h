// An experiment as every process of a training run sees it: the config (parsed with
// positions in its errors, overridable field by field), the model and tables it implies,
// and the layout of the run directory the launcher and the workers share.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/metrics.h"
#include "models/model_spec.h"
#include "proto/config.pb.h"
#include "proto/data.pb.h"
#include "proto/wire.pb.h"

namespace sparrow::experiment {

// Table ids on the servers. The bias lives in a table of its own so the linear table's
// L1/L2 penalties do not pull it towards zero.
inline constexpr uint32_t kLinearTable = 0;
inline constexpr uint32_t kFactorTable = 1;
inline constexpr uint32_t kBiasTable = 2;
inline constexpr uint64_t kBiasKey = 0;

// Parses a config in Protobuf text format. Errors read "NAME:LINE:COLUMN: message" with
// the field named by the parser ("... has no field named \"epoch\"").
Result<config::ExperimentConfig> ParseExperiment(std::string_view text, const std::string& name);

// Applies "a.b.c=value" to `cfg` (a repeated field is replaced by the one value). Errors
// name the path and why: unknown field, not a scalar, bad value.
Status ApplyOverride(const std::string& assignment, config::ExperimentConfig* cfg);

// Reads `path`, applies `overrides` in order, fills the defaults a run needs (optimizer
// rules, output dir = runs/<file name without extension>) and checks values.
Result<config::ExperimentConfig> LoadExperiment(const std::string& path,
                                                const std::vector<std::string>& overrides);

// The model a `model { ... }` block describes; num_fields matters for FFM only. Used by
// training (from the config) and by scoring (from a model file's header).
Result<models::ModelSpec> ModelSpecOfModel(const config::ModelConfig& model, uint32_t num_fields);

// The model a config trains over a resolved feature spec (num_fields from the spec).
Result<models::ModelSpec> ModelSpecOf(const config::ExperimentConfig& cfg,
                                      const data::FeatureSpec& features);

// The server tables for that model: linear "w", factors "v" (FM/FFM), "bias".
// `expected_keys` (0: unknown) is the capacity hint of the tables that get a row per key.
std::vector<wire::TableSpec> TableSpecsOf(const config::ExperimentConfig& cfg,
                                          const models::ModelSpec& spec,
                                          uint64_t expected_keys = 0);

// Files of a run directory, shared by the launcher, the workers and the servers.
struct RunDir {
  std::string root;
  std::string Config() const { return root + "/config.pbtxt"; }
  std::string Features() const { return root + "/feature_spec.pbtxt"; }
  std::string ModelPartsPrefix() const { return root + "/parts/model"; }
  std::string Model() const { return root + "/model.bin"; }
  std::string Metrics() const { return root + "/metrics.json"; }
  std::string Report() const { return root + "/report.html"; }
  std::string Logs() const { return root + "/logs"; }
  // Worker `rank`'s progress lines (the same lines it prints), for `sparrow train
  // --stage=finish` when an orchestrator, not the launcher, ran the processes.
  std::string Progress(int rank) const;
  // Scores of one worker for one split after one epoch (see WriteScores).
  std::string Scores(const std::string& split, int epoch, int rank) const;
};

// Reads the resolved config and feature spec that `sparrow train` wrote into `dir`.
Status LoadRunDir(const RunDir& dir, config::ExperimentConfig* cfg, data::FeatureSpec* features);

// Text files in and out (configs, specs), with errors naming the path.
Result<std::string> ReadTextFile(const std::string& path);
Status WriteTextFile(const std::string& path, const std::string& text);

// Scored rows as workers write them (raw models::Scored records) for the launcher to
// compute exact metrics.
Status WriteScores(const std::string& path, const std::vector<models::Scored>& rows);
Status AppendScores(const std::string& path, std::vector<models::Scored>* rows);

}  // namespace sparrow::experiment
