// `sparrow convert INPUT... --output=PATH.spc [--spec=SPEC] [--format=F] [--part=P]`:
// parses text once into the binary cache (data/cache.h), which training re-reads every
// epoch many times faster. The cache records the resolved feature spec and its sources;
// a reader under another spec, or after a source changed, rejects it as stale.
#include <cstdio>
#include <string>
#include <vector>

#include "data/cache.h"
#include "data/feature_spec.h"
#include "data/text_reader.h"
#include "tools/command.h"
#include "tools/data_flags.h"

DEFINE_string(part, "all", "convert: rows of the spec's split to keep: all, train or test");

namespace sparrow::tools {
namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "sparrow convert: %s\n", st.message().c_str());
  return 1;
}

int RunConvert(const std::vector<std::string>& args) {
  if (FLAGS_output.empty()) {
    std::fprintf(stderr, "usage: sparrow convert INPUT... --output=PATH.spc [--spec=SPEC]\n");
    return 2;
  }
  data::SplitPart part;
  if (FLAGS_part == "all") {
    part = data::SplitPart::kAll;
  } else if (FLAGS_part == "train") {
    part = data::SplitPart::kTrain;
  } else if (FLAGS_part == "test") {
    part = data::SplitPart::kTest;
  } else {
    std::fprintf(stderr, "sparrow convert: --part must be all, train or test\n");
    return 2;
  }
  Result<data::DataSpec> spec = DataSpecFromFlags(args);
  if (!spec.ok()) return Fail(spec.status());
  if (spec->train_size() == 0) {
    std::fprintf(stderr, "sparrow convert: no input files (arguments or the spec's train)\n");
    return 2;
  }
  Result<data::FeatureSpec> features = data::ResolveFeatureSpec(*spec);
  if (!features.ok()) return Fail(features.status());
  std::vector<std::string> inputs(spec->train().begin(), spec->train().end());
  auto writer = data::CacheWriter::Create(FLAGS_output, *features, inputs);
  if (!writer.ok()) return Fail(writer.status());
  data::ReadOptions options;
  options.threads = FLAGS_threads > 0 ? FLAGS_threads : 2;
  options.part = part;
  data::ReadStats stats;
  Status st = data::ReadText(
      *spec, *features, inputs, options, [&](const data::Batch& b) { return (*writer)->Append(b); },
      &stats);
  if (st.ok()) st = (*writer)->Finish();
  if (!st.ok()) return Fail(st);
  std::printf("convert: rows=%llu text_bytes=%llu bad_lines=%llu output=%s\n",
              static_cast<unsigned long long>(stats.rows),
              static_cast<unsigned long long>(stats.bytes),
              static_cast<unsigned long long>(stats.bad_lines), FLAGS_output.c_str());
  return 0;
}

}  // namespace

Command ConvertCommand() {
  return {"convert",
          "INPUT... --output=PATH.spc [--spec=SPEC] [--format=F] [--part=P]",
          "parse text data once into a binary cache for fast re-reads",
          {"output", "spec", "format", "threads", "part", "max_bad_lines"},
          &RunConvert};
}

}  // namespace sparrow::tools
