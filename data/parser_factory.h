// Picks and builds the LineParser for one file under a resolved spec, and the line filter
// that applies the spec's row-index split. (Column splits live in the CSV parser.)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/line_parser.h"
#include "data/text_reader.h"
#include "proto/data.pb.h"

namespace sparrow::data {

struct ParserSetup {
  std::unique_ptr<LineParser> parser;
  LineFilter filter;  // header_lines and the row-index split; first_line and shards unset
};

Result<ParserSetup> MakeLineParser(const DataSpec& data, const FeatureSpec& features,
                                   SplitPart part, const std::string& path);

// The column names of a CSV/Criteo file under `features`: ColumnSpec.names if given (no
// header; *header_lines = 0), else the file's header line (*header_lines = 1).
Result<std::vector<std::string>> ColumnNames(const FeatureSpec& features, const std::string& path,
                                             uint64_t* header_lines);

// The row-index part of `split` as a filter (modulus 0 when `split` uses a column or
// part is kAll).
Status RowIndexSplit(const DataSpec& data, SplitPart part, LineFilter* filter);

}  // namespace sparrow::data
