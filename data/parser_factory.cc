#include "data/parser_factory.h"

#include "data/csv_parser.h"
#include "data/feature_spec.h"
#include "data/sparse_text_parser.h"

namespace sparrow::data {

Result<std::vector<std::string>> ColumnNames(const FeatureSpec& features, const std::string& path,
                                             uint64_t* header_lines) {
  const ColumnSpec& cs = features.columns();
  if (cs.names_size() > 0) {
    *header_lines = 0;
    return std::vector<std::string>(cs.names().begin(), cs.names().end());
  }
  *header_lines = 1;
  SPARROW_ASSIGN_OR_RETURN(std::string header, ReadFirstLine(path));
  char delim = cs.delimiter().empty() ? ',' : cs.delimiter()[0];
  Result<std::vector<std::string>> names = CsvParser::SplitHeader(header, delim);
  if (!names.ok()) return names.status().WithContext(path + ":1");
  return names;
}

Status RowIndexSplit(const DataSpec& data, SplitPart part, LineFilter* filter) {
  if (part == SplitPart::kAll || !data.has_split() || data.split().has_column()) {
    return Status::Ok();
  }
  const Split& split = data.split();
  if (split.modulus() == 0 || split.modulus() > 64) {
    return InvalidArgument("split.modulus must be in 1..64, not " +
                           std::to_string(split.modulus()));
  }
  filter->modulus = split.modulus();
  filter->test_mask = 0;
  for (uint64_t r : split.test_residues()) {
    if (r < 64) filter->test_mask |= uint64_t{1} << r;
  }
  if (split.test_residues_size() == 0) filter->test_mask = 1;
  filter->part = static_cast<int>(part);
  return Status::Ok();
}

Result<ParserSetup> MakeLineParser(const DataSpec& data, const FeatureSpec& features,
                                   SplitPart part, const std::string& path) {
  ParserSetup setup;
  SPARROW_RETURN_IF_ERROR(RowIndexSplit(data, part, &setup.filter));
  switch (features.format()) {
    case LIBSVM:
    case LIBFFM:
      if (data.split().has_column() && part != SplitPart::kAll) {
        return InvalidArgument("split.column needs a CSV or CRITEO file; " + path +
                               " is LIBSVM/LIBFFM (split on the row index instead)");
      }
      setup.parser = std::make_unique<SparseTextParser>(features);
      return setup;
    case CSV:
    case CRITEO: {
      SPARROW_ASSIGN_OR_RETURN(std::vector<std::string> names,
                               ColumnNames(features, path, &setup.filter.header_lines));
      Result<std::unique_ptr<CsvParser>> p =
          CsvParser::Create(features, names, data.split(), static_cast<int>(part));
      if (!p.ok()) return p.status().WithContext(path);
      setup.parser = std::move(p).value();
      return setup;
    }
    default:
      return InvalidArgument(path + ": format " + Format_Name(features.format()) +
                             " is not a text format");
  }
}

}  // namespace sparrow::data
