#include "tools/data_flags.h"

#include <algorithm>
#include <cctype>

#include "data/feature_spec.h"

DEFINE_string(format, "",
              "data format: libsvm, libffm, csv, criteo or cache (default: by file name)");
DEFINE_string(spec, "", "data spec file (Protobuf text DataSpec); needed for CSV columns");
DEFINE_int32(threads, 0, "parsing threads (0: the command's default)");
DEFINE_string(output, "", "output path");
DEFINE_uint64(seed, 1, "random seed");
DEFINE_uint64(max_bad_lines, 0, "malformed lines to skip (counted) before failing");

namespace sparrow::tools {

Result<data::DataSpec> DataSpecFromFlags(const std::vector<std::string>& files) {
  data::DataSpec spec;
  if (!FLAGS_spec.empty()) {
    SPARROW_ASSIGN_OR_RETURN(spec, data::LoadDataSpec(FLAGS_spec));
  }
  if (!files.empty()) {
    spec.clear_train();
    for (const std::string& f : files) spec.add_train(f);
  }
  if (!FLAGS_format.empty()) {
    std::string upper = FLAGS_format;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    data::Format format;
    if (!data::Format_Parse(upper, &format) || format == data::FORMAT_UNSPECIFIED) {
      return InvalidArgument("--format: unknown format '" + FLAGS_format +
                             "' (libsvm, libffm, csv, criteo or cache)");
    }
    spec.set_format(format);
  }
  gflags::CommandLineFlagInfo info;
  if (gflags::GetCommandLineFlagInfo("max_bad_lines", &info) && !info.is_default) {
    spec.set_max_bad_lines(FLAGS_max_bad_lines);
  }
  return spec;
}

}  // namespace sparrow::tools
