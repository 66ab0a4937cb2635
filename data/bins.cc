#include "data/bins.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "data/csv_parser.h"
#include "data/line_chunker.h"
#include "data/parser_factory.h"

namespace sparrow::data {

std::vector<double> QuantileBoundaries(std::vector<double> values, uint32_t bins) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  std::vector<double> out;
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  for (uint32_t k = 1; k < std::max<uint32_t>(bins, 2); ++k) {
    double q = values[std::min(n - 1, static_cast<size_t>(k) * n / bins)];
    if (out.empty() || q > out.back()) out.push_back(q);
  }
  return out;
}

Status LearnBins(const DataSpec& data, FeatureSpec* features) {
  bool any = false;
  for (const NumericColumn& n : features->columns().numeric()) {
    any |= n.transform() == NumericColumn::BUCKETIZE && n.boundaries_size() == 0;
  }
  if (!any) return Status::Ok();
  const SplitPart part = data.has_split() ? SplitPart::kTrain : SplitPart::kAll;
  const uint64_t cap = std::max<uint64_t>(data.bin_sample_rows(), 1);
  std::mt19937_64 rng(0x5eedb175);
  std::vector<std::vector<double>> sample, chunk_values;
  std::vector<std::string> names;
  uint64_t seen = 0;
  for (const std::string& path : data.train()) {
    uint64_t header_lines;
    SPARROW_ASSIGN_OR_RETURN(std::vector<std::string> cols,
                             ColumnNames(*features, path, &header_lines));
    Result<std::unique_ptr<CsvParser>> parser = CsvParser::Create(
        *features, cols, data.split(), static_cast<int>(part), /*learning_bins=*/true);
    if (!parser.ok()) return parser.status().WithContext(path);
    names = (*parser)->learned_columns();
    sample.resize(names.size());
    LineFilter filter;
    filter.header_lines = header_lines;
    SPARROW_RETURN_IF_ERROR(RowIndexSplit(data, part, &filter));
    SPARROW_ASSIGN_OR_RETURN(auto stream, OpenByteStream(path));
    LineChunker chunker(std::move(stream), path, 0, UINT64_MAX, 1 << 20);
    Chunk chunk;
    for (;;) {
      SPARROW_RETURN_IF_ERROR(chunker.Next(&chunk));
      if (chunk.size == 0) break;
      filter.first_line = chunk.first_line;
      for (auto& v : chunk_values) v.clear();
      uint64_t rows =
          (*parser)->CollectNumeric(chunk.text.data(), chunk.size, filter, &chunk_values);
      for (uint64_t r = 0; r < rows; ++r, ++seen) {
        if (seen < cap) {
          for (size_t j = 0; j < names.size(); ++j) sample[j].push_back(chunk_values[j][r]);
        } else {
          uint64_t slot = rng() % (seen + 1);
          if (slot < cap) {
            for (size_t j = 0; j < names.size(); ++j) sample[j][slot] = chunk_values[j][r];
          }
        }
      }
    }
  }
  size_t j = 0;
  for (NumericColumn& n : *features->mutable_columns()->mutable_numeric()) {
    if (n.transform() != NumericColumn::BUCKETIZE || n.boundaries_size() > 0) continue;
    std::vector<double> b =
        QuantileBoundaries(j < sample.size() ? sample[j] : std::vector<double>(), n.bins());
    ++j;
    if (b.empty()) {
      return InvalidArgument("columns.numeric '" + n.name() +
                             "': no numeric value in the training split to learn bins from");
    }
    for (double x : b) n.add_boundaries(x);
  }
  return Status::Ok();
}

}  // namespace sparrow::data
