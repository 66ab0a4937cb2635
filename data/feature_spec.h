// DataSpec in, FeatureSpec out: reading the user's spec, filling defaults, checking it
// against the data, learning what must be learned (quantile bins, on the training split
// only), and identifying the result by a fingerprint.
//
// Thread safety: pure functions (they read files).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "proto/data.pb.h"

namespace sparrow::data {

// Parses a DataSpec in Protobuf text format. Errors name `name`:LINE:COLUMN and the field.
Result<DataSpec> ParseDataSpec(std::string_view text, const std::string& name);
Result<DataSpec> LoadDataSpec(const std::string& path);

// Format from a file name (".gz"/".zst" suffixes looked through): .svm .libsvm .txt ->
// LIBSVM, .ffm -> LIBFFM, .csv -> CSV, .tsv -> CRITEO, .spc -> CACHE; else unspecified.
Format GuessFormat(const std::string& path);

// Resolves `data` into the transformation every reader applies: format (guessed from the
// first train file if unspecified), CSV columns checked against the first train file's
// header (every column named must exist; unlisted columns per ColumnSpec.unlisted), field
// ids assigned, quantile bins learned on the training split of data.train(). Criteo gets
// its fixed column spec. Errors name the spec field and the file.
Result<FeatureSpec> ResolveFeatureSpec(const DataSpec& data);
// The same, with the column names given instead of read from the first file (for data
// that has no file yet, like the synthetic stream). Learning bins still reads data.train().
Result<FeatureSpec> ResolveFeatureSpec(const DataSpec& data,
                                       const std::vector<std::string>* header);

// 64-bit identity of a resolved spec (XXH3 of its deterministic serialization). Caches and
// model files record it; a reader given another spec rejects them.
uint64_t Fingerprint(const FeatureSpec& spec);

// The first line of a (possibly compressed) file, without its line ending.
Result<std::string> ReadFirstLine(const std::string& path);

// Positional names a CRITEO file's columns have: label, I1..I13, C1..C26.
ColumnSpec CriteoColumns(bool has_label);

}  // namespace sparrow::data
