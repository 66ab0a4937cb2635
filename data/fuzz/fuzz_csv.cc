// libFuzzer target: CSV. The first line is the header; the first column is the label, the
// second bucketized, the third a log numeric, the rest categorical, the second and the
// last crossed. Resolving the spec from the header is fuzzed too.
#include <vector>

#include "data/csv_parser.h"
#include "data/feature_spec.h"
#include "data/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparrow::data;
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.find('\n');
  if (nl == std::string::npos) return 0;
  auto header = CsvParser::SplitHeader(text.substr(0, nl), ',');
  if (!header.ok() || header->size() < 3) return 0;
  DataSpec spec;
  spec.set_format(CSV);
  ColumnSpec* cs = spec.mutable_columns();
  cs->set_label((*header)[0]);
  NumericColumn* b = cs->add_numeric();
  b->set_name((*header)[1]);
  b->set_transform(NumericColumn::BUCKETIZE);
  b->add_boundaries(0);
  b->add_boundaries(10);
  NumericColumn* l = cs->add_numeric();
  l->set_name((*header)[2]);
  l->set_transform(NumericColumn::LOG);
  if (header->size() > 3) {
    Cross* x = cs->add_cross();
    x->add_columns((*header)[1]);
    x->add_columns(header->back());
  }
  cs->set_unlisted(ColumnSpec::CATEGORICAL);
  spec.mutable_split()->set_column((*header)[0]);
  auto features = ResolveFeatureSpec(spec, &*header);
  if (!features.ok()) return 0;
  for (int part : {0, 1}) {
    auto parser = CsvParser::Create(*features, *header, spec.split(), part);
    if (!parser.ok()) return 0;
    fuzz::ParseAll(**parser, data + nl + 1, size - nl - 1);
  }
  return 0;
}
