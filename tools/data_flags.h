// Flags shared by the data commands (convert, synth, bench parse), defined once in
// tools/data_flags.cc. Other commands that want the same meaning DECLARE them here.
#pragma once

#include <gflags/gflags.h>

#include <string>

#include "core/status.h"
#include "proto/data.pb.h"

DECLARE_string(format);
DECLARE_string(spec);
DECLARE_int32(threads);
DECLARE_string(output);
DECLARE_uint64(seed);
DECLARE_uint64(max_bad_lines);

namespace sparrow::tools {

// The DataSpec a data command works under: --spec=FILE if given (its train files replaced
// by `files` when given), else a spec of --format (or the format the first file's name
// suggests) over `files`. --max_bad_lines overrides the spec's when set on the command line.
Result<data::DataSpec> DataSpecFromFlags(const std::vector<std::string>& files);

}  // namespace sparrow::tools
