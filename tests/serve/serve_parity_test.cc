// Parity: the daemon's scores over real HTTP equal `sparrow predict`'s on the test splits
// of the real datasets (one implementation of features and models, so to 1e-6), for an
// LR (gmsc_lr), an FM on LIBSVM (a9a_fm) and a Poisson model with exposure
// (fremtpl_poisson). Each model is trained here for one epoch.
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/hash.h"
#include "data/csv_parser.h"
#include "proto/config.pb.h"
#include "serve/json_writer.h"
#include "tests/serve/serve_harness.h"
#include "tests/shared_data.h"

namespace sparrow::serve::testing {
namespace {

using nlohmann::json;

// Whether data row `row` (0-based) with split-column text `v` is in the test part, as
// proto/data.proto defines the split.
bool IsTest(const data::Split& split, std::string_view v, uint64_t row) {
  uint64_t key = row;
  if (split.has_column()) {
    char* end = nullptr;
    const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
    key =
        digits ? std::strtoull(std::string(v).c_str(), &end, 10) : XXH3_64bits(v.data(), v.size());
  }
  uint64_t mask = 0;
  for (uint64_t r : split.test_residues()) mask |= uint64_t{1} << r;
  if (split.test_residues_size() == 0) mask = 1;
  return (mask >> (key % split.modulus())) & 1;
}

bool IsJsonNumber(const std::string& s) {
  json j = json::parse(s, nullptr, false);
  return !j.is_discarded() && j.is_number();
}

void CheckParity(const std::string& name) {
  const std::string src = SPARROW_SOURCE_DIR;
  const std::string config_path = src + "/configs/" + name + ".conf";
  ASSERT_TRUE(std::filesystem::exists(config_path)) << config_path << " is missing";
  // Config data paths are relative to the source tree.
  ASSERT_EQ(chdir(src.c_str()), 0);
  config::ExperimentConfig cfg;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(ReadFile(config_path), &cfg));
  const data::DataSpec& ds = cfg.data();
  // The shipped configs name their data as ../shared/data/...
  const std::string prefix = "../shared/data/";
  ASSERT_EQ(ds.train(0).rfind(prefix, 0), 0u) << ds.train(0);
  SPARROW_NEED_SHARED_DATA(ds.train(0).substr(prefix.size()));
  const std::string dir = TempDir() + "/parity_" + name;
  ASSERT_EQ(RunSparrow({"train", config_path, "--out=" + dir, "--set", "train.epochs=1"},
                       dir + ".train.log"),
            0)
      << ReadFile(dir + ".train.log");
  const std::string model = dir + "/model.bin";
  const bool separate_test = ds.test_size() > 0;
  const std::string file = separate_test ? ds.test(0) : ds.train(0);
  const std::string predicted = dir + "/predict.txt";
  ASSERT_EQ(RunSparrow({"predict", "--model=" + model, "--data=" + file,
                        std::string("--split=") + (separate_test ? "all" : "test"),
                        "--output=" + predicted},
                       dir + ".predict.log"),
            0)
      << ReadFile(dir + ".predict.log");

  ServeProcess d(model, {"--max_records=1000", "--max_body_bytes=10000000"});
  ASSERT_TRUE(d.started());
  json meta = json::parse(Http("GET", d.url("/v1/model")).body);
  std::map<std::string, std::string> kinds;
  for (const json& c : meta["columns"]) kinds[c["name"]] = c["type"];

  std::vector<double> scores;
  std::string body;
  int in_body = 0;
  auto flush = [&] {
    if (in_body == 0) return;
    HttpReply r = Http("POST", d.url("/v1/score"), "{\"records\":[" + body + "]}");
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    const json reply = json::parse(r.body);
    for (const json& res : reply["results"]) scores.push_back(res["score"]);
    body.clear();
    in_body = 0;
  };
  std::ifstream in(file);
  std::string line;
  const bool csv = ds.format() == data::CSV;
  std::vector<std::string> names;
  int split_col = -1;
  std::vector<std::string> missing(ds.columns().missing().begin(), ds.columns().missing().end());
  if (missing.empty()) missing.push_back("NA");
  if (csv) {
    std::getline(in, line);
    names = *data::CsvParser::SplitHeader(line, ',');
    for (size_t i = 0; i < names.size(); ++i) {
      if (ds.split().has_column() && names[i] == ds.split().column())
        split_col = static_cast<int>(i);
    }
  }
  for (uint64_t row = 0; std::getline(in, line); ++row) {
    if (line.empty()) continue;
    std::string rec = "{";
    if (csv) {
      std::vector<std::string> f = *data::CsvParser::SplitHeader(line, ',');
      ASSERT_EQ(f.size(), names.size());
      if (!separate_test &&
          !IsTest(ds.split(), split_col >= 0 ? f[split_col] : std::string_view(), row)) {
        continue;
      }
      for (size_t i = 0; i < names.size(); ++i) {
        auto it = kinds.find(names[i]);
        if (it == kinds.end() || it->second == "ignored") continue;
        std::string v = f[i];
        const bool is_missing =
            v.empty() || std::find(missing.begin(), missing.end(), v) != missing.end();
        if (rec.size() > 1) rec += ',';
        AppendJsonString(&rec, names[i]);
        rec += ':';
        if (is_missing) {
          rec += "null";
        } else if (it->second == "number") {
          if (IsJsonNumber(v)) {
            rec += v;
          } else {
            AppendJsonNumber(&rec, std::strtod(v.c_str(), nullptr));
          }
        } else {
          AppendJsonString(&rec, v);
        }
      }
    } else {
      // LIBSVM: "label idx:val ...".
      std::istringstream tokens(line);
      std::string tok;
      tokens >> tok;  // label
      while (tokens >> tok) {
        const size_t colon = tok.rfind(':');
        if (rec.size() > 1) rec += ',';
        AppendJsonString(&rec, tok.substr(0, colon));
        rec += ':' + (colon == std::string::npos ? "1" : tok.substr(colon + 1));
      }
    }
    rec += '}';
    body += (in_body++ ? "," : "") + rec;
    if (in_body == 1000) flush();
  }
  flush();
  std::ifstream pin(predicted);
  std::vector<double> expected;
  for (double x; pin >> x;) expected.push_back(x);
  ASSERT_EQ(scores.size(), expected.size());
  ASSERT_GT(scores.size(), 1000u);
  double max_diff = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(scores[i] - expected[i]));
  }
  EXPECT_LE(max_diff, 1e-6) << name << ": " << scores.size() << " rows";
}

TEST(ServeParity, GmscLr) {
  CheckParity("gmsc_lr");
}
TEST(ServeParity, A9aFm) {
  CheckParity("a9a_fm");
}
TEST(ServeParity, FremtplPoisson) {
  CheckParity("fremtpl_poisson");
}

}  // namespace
}  // namespace sparrow::serve::testing
