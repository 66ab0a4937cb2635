// `sparrow predict`, `sparrow eval`, `sparrow inspect`: a model file and data, through the
// same scoring code as the daemon (scoring/scorer.h).
#include <gflags/gflags.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/hash.h"
#include "models/metrics.h"
#include "scoring/score_files.h"
#include "tools/data_flags.h"
#include "tools/train_commands.h"

DEFINE_string(model, "", "path of a model file (model.bin of a run)");
DEFINE_string(data, "",
              "data file(s) to score, comma-separated; eval: default the test split of the "
              "model's training config");
DEFINE_string(split, "all",
              "which rows of --data: all, train or test (by the training config's split)");
DEFINE_int32(top, 20, "inspect: how many of the largest weights to list");
DEFINE_bool(dump, false, "inspect: print every row (key, weights) as text");

namespace sparrow::tools {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    const size_t e = std::min(s.find(',', b), s.size());
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

Result<data::SplitPart> PartOf(const std::string& s) {
  if (s == "all") return data::SplitPart::kAll;
  if (s == "train") return data::SplitPart::kTrain;
  if (s == "test") return data::SplitPart::kTest;
  return InvalidArgument("--split must be all, train or test, not '" + s + "'");
}

Result<std::shared_ptr<const scoring::Scorer>> LoadModel() {
  if (FLAGS_model.empty()) return InvalidArgument("--model is required");
  return scoring::Scorer::Load(FLAGS_model);
}

int Fail(const char* cmd, const Status& st) {
  std::fprintf(stderr, "sparrow %s: %s\n", cmd, st.message().c_str());
  return st.code() == Code::kInvalidArgument ? 2 : 1;
}

}  // namespace

int RunPredict(const std::vector<std::string>&) {
  auto scorer = LoadModel();
  if (!scorer.ok()) return Fail("predict", scorer.status());
  auto part = PartOf(FLAGS_split);
  if (!part.ok()) return Fail("predict", part.status());
  if (FLAGS_data.empty()) return Fail("predict", InvalidArgument("--data is required"));
  FILE* out = stdout;
  const std::string tmp = FLAGS_output + ".tmp";
  if (!FLAGS_output.empty()) {
    out = std::fopen(tmp.c_str(), "w");
    if (!out) return Fail("predict", Unavailable("cannot write " + tmp));
  }
  const models::Objective obj = (*scorer)->spec().objective;
  Status st =
      scoring::ScoreFiles(**scorer, SplitList(FLAGS_data), *part, std::max(1, FLAGS_threads),
                          [&](const data::Batch& b, const float* m) {
                            for (size_t r = 0; r < b.rows(); ++r) {
                              std::fprintf(out, "%.9g\n", models::Prediction(obj, m[r]));
                            }
                            return Status::Ok();
                          });
  if (out != stdout) {
    std::fclose(out);
    if (st.ok() && std::rename(tmp.c_str(), FLAGS_output.c_str()) != 0) {
      st = Unavailable("cannot rename " + tmp);
    }
    if (!st.ok()) std::remove(tmp.c_str());
  }
  return st.ok() ? 0 : Fail("predict", st);
}

int RunEval(const std::vector<std::string>&) {
  auto scorer = LoadModel();
  if (!scorer.ok()) return Fail("eval", scorer.status());
  std::vector<std::string> files = SplitList(FLAGS_data);
  std::string split = FLAGS_split;
  if (files.empty()) {  // the training config's test data
    auto spec = scoring::TrainingDataSpec(**scorer);
    if (!spec.ok()) return Fail("eval", spec.status());
    if (spec->test_size() > 0) {
      files.assign(spec->test().begin(), spec->test().end());
      split = "all";
    } else {
      files.assign(spec->train().begin(), spec->train().end());
      split = "test";
    }
  }
  auto part = PartOf(split);
  if (!part.ok()) return Fail("eval", part.status());
  std::vector<models::Scored> rows;
  Status st =
      scoring::ScoreFiles(**scorer, files, *part, std::max(1, FLAGS_threads),
                          [&](const data::Batch& b, const float* m) {
                            for (size_t r = 0; r < b.rows(); ++r) {
                              rows.push_back({m[r], b.labels[r], b.weights[r], b.offsets[r]});
                            }
                            return Status::Ok();
                          });
  if (!st.ok()) return Fail("eval", st);
  const models::Metrics m = models::ComputeMetrics((*scorer)->spec().objective, rows);
  std::printf("%s\n", m.ToJson().dump(2).c_str());
  return 0;
}

// Names for the keys the feature spec can enumerate: numeric columns' value, bucket and
// missing keys, and LIBSVM/LIBFFM indices up to max_index (or 2^20). Categorical values
// and crosses are hashes of open-ended text; they stay unnamed.
std::string G(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", x);
  return buf;
}

std::unordered_map<uint64_t, std::string> KnownKeys(const data::FeatureSpec& f) {
  std::unordered_map<uint64_t, std::string> names;
  const uint64_t seed = f.hash_seed();
  for (const auto& n : f.columns().numeric()) {
    names[FeatureKey(seed, n.name(), "#")] = n.name();
    names[FeatureKey(seed, n.name(), "")] = n.name() + "=<missing>";
    for (int i = 0; i <= n.boundaries_size(); ++i) {
      std::string range = i == 0 ? "(-inf" : "[" + G(n.boundaries(i - 1));
      range += ", " + (i == n.boundaries_size() ? std::string("inf)") : G(n.boundaries(i)) + ")");
      names[FeatureKey(seed, n.name(), "b" + std::to_string(i))] = n.name() + " in " + range;
    }
  }
  for (const auto& c : f.columns().categorical()) {
    names[FeatureKey(seed, c.name(), "")] = c.name() + "=<missing>";
  }
  if ((f.format() == data::LIBSVM || f.format() == data::LIBFFM) && f.hash_indices()) {
    const uint64_t top = f.max_index() ? f.max_index() : (1u << 20);
    const uint64_t cs = ColumnSeed(seed, "");
    for (uint64_t i = 0; i <= top; ++i) {
      names[FeatureKey(cs, std::to_string(i))] = "index " + std::to_string(i);
    }
  }
  return names;
}

int RunInspect(const std::vector<std::string>&) {
  auto scorer = LoadModel();
  if (!scorer.ok()) return Fail("inspect", scorer.status());
  const auto& s = **scorer;
  const auto& h = s.header();
  std::printf("model:      %s\nid:         %s\nkind:       %s\nobjective:  %s\n", s.path().c_str(),
              h.model_id().c_str(), models::ModelKindName(s.spec().kind),
              models::ObjectiveName(s.spec().objective));
  if (s.spec().k) std::printf("k:          %u\n", s.spec().k);
  if (s.spec().num_fields) std::printf("fields:     %u\n", s.spec().num_fields);
  std::printf("bias:       %.6g\ncrc32c:     %08x\n", h.bias(), s.file_crc());
  for (const auto& t : h.tables()) {
    std::printf("table %-4s width %u, %llu rows\n", t.name().c_str(), t.width(),
                static_cast<unsigned long long>(t.rows()));
  }
  std::printf("features:   format %s, hash seed %llu, hash version %u\n",
              data::Format_Name(h.features().format()).c_str(),
              static_cast<unsigned long long>(h.features().hash_seed()),
              h.features().hash_version());
  const auto names = KnownKeys(h.features());
  auto name = [&](uint64_t k) {
    auto it = names.find(k);
    char hex[32];
    std::snprintf(hex, sizeof(hex), "key %016llx", static_cast<unsigned long long>(k));
    return it == names.end() ? std::string(hex) + " (categorical or cross)" : it->second;
  };
  if (FLAGS_dump) {
    std::printf("\n# table w: key weight [feature]\n");
    s.linear().ForEach([&](uint64_t k, const float* w) {
      std::printf("%llu %.9g %s\n", static_cast<unsigned long long>(k), w[0], name(k).c_str());
    });
    if (s.factors() != nullptr) {
      std::printf("\n# table v: key factors...\n");
      const uint32_t fw = s.factors()->row_floats();
      s.factors()->ForEach([&](uint64_t k, const float* v) {
        std::printf("%llu", static_cast<unsigned long long>(k));
        for (uint32_t j = 0; j < fw; ++j) std::printf(" %.9g", v[j]);
        std::printf("\n");
      });
    }
    return 0;
  }
  std::vector<std::pair<float, uint64_t>> top;
  s.linear().ForEach([&](uint64_t k, const float* w) { top.emplace_back(w[0], k); });
  std::sort(top.begin(), top.end(),
            [](const auto& a, const auto& b) { return std::fabs(a.first) > std::fabs(b.first); });
  if (top.size() > static_cast<size_t>(std::max(0, FLAGS_top))) top.resize(FLAGS_top);
  std::printf("\nlargest linear weights:\n");
  for (const auto& [w, k] : top) std::printf("  %+10.5f  %s\n", w, name(k).c_str());
  return 0;
}

}  // namespace sparrow::tools
