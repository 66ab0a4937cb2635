// Helpers for the data tests: the shared real data sets, temporary files, whole reads.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/batch.h"
#include "data/feature_spec.h"
#include "data/text_reader.h"
#include "tests/shared_data.h"

namespace sparrow::data::testing {

// The whole content of a file ("" if it cannot be read).
inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Declares `var`, the path of ../shared/data/<rel>; ends the test first if it is absent
// (a failure where CI requires the data: tests/shared_data.h).
#define SPARROW_REQUIRE_SHARED(var, rel) \
  SPARROW_NEED_SHARED_DATA(rel);         \
  const std::string var = ::sparrow::testing::SharedPath(rel)

// A fresh directory for one test, removed at its end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sparrow_data_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(File(name), std::ios::binary) << text;
    return File(name);
  }

 private:
  std::string path_;
};

// Reads everything into one batch.
inline Status ReadAll(const DataSpec& data, const FeatureSpec& features,
                      const std::vector<std::string>& files, ReadOptions options, Batch* out,
                      ReadStats* stats = nullptr) {
  out->Clear();
  out->has_fields = features.format() != LIBSVM;
  return ReadText(
      data, features, files, options,
      [out](const Batch& b) {
        out->AppendRows(b, 0, b.rows());
        return Status::Ok();
      },
      stats);
}

inline DataSpec SpecOf(const std::string& text) {
  Result<DataSpec> spec = ParseDataSpec(text, "test.spec");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? *spec : DataSpec();
}

inline FeatureSpec Resolve(const DataSpec& data) {
  Result<FeatureSpec> fs = ResolveFeatureSpec(data);
  EXPECT_TRUE(fs.ok()) << fs.status().ToString();
  return fs.ok() ? *fs : FeatureSpec();
}

}  // namespace sparrow::data::testing
