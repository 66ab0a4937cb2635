#include "experiment/experiment.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace sparrow::experiment {
namespace {

namespace pb = google::protobuf;

class Collector : public pb::io::ErrorCollector {
 public:
  explicit Collector(std::string name) : name_(std::move(name)) {}
  void AddError(int line, int column, const std::string& message) override {
    if (first_.empty()) {
      first_ = name_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message;
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string name_;
  std::string first_;
};

std::string Stem(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  const size_t dot = base.rfind('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

}  // namespace

std::string RunDir::Scores(const std::string& split, int epoch, int rank) const {
  return root + "/scores/" + split + "-e" + std::to_string(epoch) + "-w" + std::to_string(rank) +
         ".bin";
}

std::string RunDir::Progress(int rank) const {
  return root + "/progress/worker-" + std::to_string(rank) + ".txt";
}

Status LoadRunDir(const RunDir& dir, config::ExperimentConfig* cfg, data::FeatureSpec* features) {
  SPARROW_ASSIGN_OR_RETURN(std::string text, ReadTextFile(dir.Config()));
  SPARROW_ASSIGN_OR_RETURN(*cfg, ParseExperiment(text, dir.Config()));
  SPARROW_ASSIGN_OR_RETURN(std::string ftext, ReadTextFile(dir.Features()));
  if (!google::protobuf::TextFormat::ParseFromString(ftext, features)) {
    return InvalidArgument(dir.Features() + ": does not parse as a FeatureSpec");
  }
  return Status::Ok();
}

Result<config::ExperimentConfig> ParseExperiment(std::string_view text, const std::string& name) {
  config::ExperimentConfig cfg;
  pb::TextFormat::Parser parser;
  Collector errors(name);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &cfg)) {
    return InvalidArgument(errors.first().empty() ? name + ": does not parse" : errors.first());
  }
  return cfg;
}

Status ApplyOverride(const std::string& assignment, config::ExperimentConfig* cfg) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument("--set " + assignment + ": expected FIELD.PATH=VALUE");
  }
  const std::string path = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  pb::Message* msg = cfg;
  std::stringstream parts(path);
  std::string part, walked;
  std::vector<std::string> names;
  while (std::getline(parts, part, '.')) names.push_back(part);
  for (size_t i = 0; i < names.size(); ++i) {
    walked += (walked.empty() ? "" : ".") + names[i];
    const pb::FieldDescriptor* f = msg->GetDescriptor()->FindFieldByName(names[i]);
    if (f == nullptr) {
      return InvalidArgument("--set " + path + ": " + msg->GetDescriptor()->full_name() +
                             " has no field '" + names[i] + "'");
    }
    const bool last = i + 1 == names.size();
    if (!last) {
      if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE || f->is_repeated()) {
        return InvalidArgument("--set " + path + ": '" + walked + "' is not a message");
      }
      msg = msg->GetReflection()->MutableMessage(msg, f);
      continue;
    }
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      return InvalidArgument("--set " + path + ": '" + walked + "' is a message, not a value");
    }
    if (f->is_repeated()) msg->GetReflection()->ClearField(msg, f);
    std::string text = value;
    if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING && (text.empty() || text[0] != '"')) {
      text = "\"" + text + "\"";  // strings may be given bare
    }
    pb::TextFormat::Parser parser;
    Collector errors("--set " + path);  // keeps protobuf's own log line off stderr
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFieldValueFromString(text, f, msg)) {
      return InvalidArgument("--set " + path + ": '" + value + "' is not a valid " +
                             f->type_name() +
                             (f->enum_type() ? " of " + f->enum_type()->name() : ""));
    }
  }
  return Status::Ok();
}

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable("cannot write " + tmp);
    out << text;
    if (!out.flush()) return Unavailable("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp);
  return Status::Ok();
}

Result<config::ExperimentConfig> LoadExperiment(const std::string& path,
                                                const std::vector<std::string>& overrides) {
  SPARROW_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  SPARROW_ASSIGN_OR_RETURN(config::ExperimentConfig cfg, ParseExperiment(text, path));
  for (const auto& o : overrides) SPARROW_RETURN_IF_ERROR(ApplyOverride(o, &cfg));
  if (!cfg.has_name()) cfg.set_name(Stem(path));
  if (!cfg.output().has_dir()) cfg.mutable_output()->set_dir("runs/" + cfg.name());
  auto* opt = cfg.mutable_optimizer();
  if (opt->linear().rule_case() == config::Rule::RULE_NOT_SET)
    opt->mutable_linear()->mutable_ftrl();
  if (opt->factors().rule_case() == config::Rule::RULE_NOT_SET) {
    opt->mutable_factors()->mutable_adagrad();
  }
  const std::string where = path + ": ";
  if (cfg.data().train_size() == 0) return InvalidArgument(where + "data.train: no training files");
  if (cfg.cluster().servers() < 1 || cfg.cluster().servers() > 256) {
    return InvalidArgument(where + "cluster.servers must be in [1, 256]");
  }
  if (cfg.cluster().workers() < 1 || cfg.cluster().workers() > 256) {
    return InvalidArgument(where + "cluster.workers must be in [1, 256]");
  }
  if (cfg.cluster().max_delay() < -1)
    return InvalidArgument(where + "cluster.max_delay must be >= -1");
  if (cfg.train().epochs() < 1) return InvalidArgument(where + "train.epochs must be at least 1");
  if (cfg.train().batch_size() < 1)
    return InvalidArgument(where + "train.batch_size must be at least 1");
  if (cfg.model().kind() != config::ModelConfig::LR && cfg.model().k() < 1) {
    return InvalidArgument(where + "model.k must be at least 1 for FM and FFM");
  }
  if (!(cfg.train().validation_fraction() >= 0 && cfg.train().validation_fraction() < 1)) {
    return InvalidArgument(where + "train.validation_fraction must be in [0, 1)");
  }
  if (cfg.train().early_stopping_rounds() > 0 && cfg.train().validation_fraction() == 0) {
    return InvalidArgument(where +
                           "train.early_stopping_rounds needs a validation set: set "
                           "train.validation_fraction");
  }
  if (cfg.data().test_size() == 0 && !cfg.data().has_split()) {
    return InvalidArgument(where + "data: give test files or a split of the training files");
  }
  return cfg;
}

Result<models::ModelSpec> ModelSpecOfModel(const config::ModelConfig& m, uint32_t num_fields) {
  models::ModelSpec s;
  switch (m.kind()) {
    case config::ModelConfig::LR:
      s.kind = models::ModelKind::kLR;
      break;
    case config::ModelConfig::FM:
      s.kind = models::ModelKind::kFM;
      break;
    case config::ModelConfig::FFM:
      s.kind = models::ModelKind::kFFM;
      break;
  }
  switch (m.objective()) {
    case config::ModelConfig::LOGISTIC:
      s.objective = models::Objective::kLogistic;
      break;
    case config::ModelConfig::SQUARED:
      s.objective = models::Objective::kSquared;
      break;
    case config::ModelConfig::POISSON:
      s.objective = models::Objective::kPoisson;
      break;
  }
  if (s.kind != models::ModelKind::kLR) s.k = m.k();
  if (s.kind == models::ModelKind::kFFM) s.num_fields = num_fields;
  SPARROW_RETURN_IF_ERROR(s.Validate());
  return s;
}

Result<models::ModelSpec> ModelSpecOf(const config::ExperimentConfig& cfg,
                                      const data::FeatureSpec& features) {
  return ModelSpecOfModel(cfg.model(), features.num_fields());
}

namespace {

void ApplyRule(const config::Rule& r, wire::TableSpec* t) {
  switch (r.rule_case()) {
    case config::Rule::kSgd:
      t->set_optimizer(wire::SGD);
      t->set_learning_rate(r.sgd().learning_rate());
      t->set_l2(r.sgd().l2());
      break;
    case config::Rule::kAdagrad:
      t->set_optimizer(wire::ADAGRAD);
      t->set_learning_rate(r.adagrad().learning_rate());
      t->set_l2(r.adagrad().l2());
      t->set_epsilon(r.adagrad().epsilon());
      t->set_initial_accumulator(r.adagrad().initial_accumulator());
      break;
    case config::Rule::kAdam:
      t->set_optimizer(wire::ADAM);
      t->set_learning_rate(r.adam().learning_rate());
      t->set_beta1(r.adam().beta1());
      t->set_beta2(r.adam().beta2());
      t->set_epsilon(r.adam().epsilon());
      t->set_l2(r.adam().l2());
      break;
    case config::Rule::kFtrl:
    default:
      t->set_optimizer(wire::FTRL);
      t->set_alpha(r.ftrl().alpha());
      t->set_beta(r.ftrl().beta());
      t->set_l1(r.ftrl().l1());
      t->set_l2(r.ftrl().l2());
      break;
  }
}

}  // namespace

std::vector<wire::TableSpec> TableSpecsOf(const config::ExperimentConfig& cfg,
                                          const models::ModelSpec& spec, uint64_t expected_keys) {
  std::vector<wire::TableSpec> out;
  wire::TableSpec w;
  w.set_id(kLinearTable);
  w.set_name("w");
  w.set_width(1);
  ApplyRule(cfg.optimizer().linear(), &w);
  w.set_expected_keys(expected_keys);
  out.push_back(w);
  if (spec.FactorWidth() > 0) {
    wire::TableSpec v;
    v.set_id(kFactorTable);
    v.set_name("v");
    v.set_width(spec.FactorWidth());
    ApplyRule(cfg.optimizer().factors(), &v);
    v.set_init_scale(cfg.model().init_scale());
    v.set_init_seed(cfg.model().seed());
    v.set_min_count(cfg.model().factor_min_count());
    // Below the count a key gets no row: its keys are fewer than the data's, by how much
    // is unknown, so that table grows as it fills.
    if (v.min_count() <= 1) v.set_expected_keys(expected_keys);
    out.push_back(v);
  }
  // The bias: the linear rule without its penalties.
  wire::TableSpec b = w;
  b.clear_expected_keys();
  b.set_id(kBiasTable);
  b.set_name("bias");
  b.set_l1(0);
  b.set_l2(0);
  out.push_back(b);
  return out;
}

Status WriteScores(const std::string& path, const std::vector<models::Scored>& rows) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Unavailable("cannot write " + tmp);
  const size_t n = rows.size();
  const bool ok = std::fwrite(rows.data(), sizeof(models::Scored), n, f) == n;
  std::fclose(f);
  if (!ok) return Unavailable("cannot write " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp);
  return Status::Ok();
}

Status AppendScores(const std::string& path, std::vector<models::Scored>* rows) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound("cannot open scores " + path);
  models::Scored buf[4096];
  size_t n;
  while ((n = std::fread(buf, sizeof(models::Scored), 4096, f)) > 0)
    rows->insert(rows->end(), buf, buf + n);
  std::fclose(f);
  return Status::Ok();
}

}  // namespace sparrow::experiment
