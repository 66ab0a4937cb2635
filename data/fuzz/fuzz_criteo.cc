// libFuzzer target: Criteo TSV rows under the fixed Criteo spec.
#include "data/csv_parser.h"
#include "data/feature_spec.h"
#include "data/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparrow::data;
  static const FeatureSpec* features = [] {
    DataSpec spec;
    spec.set_format(CRITEO);
    ColumnSpec names = CriteoColumns(true);
    std::vector<std::string> header(names.names().begin(), names.names().end());
    return new FeatureSpec(*ResolveFeatureSpec(spec, &header));
  }();
  static const CsvParser* parser = [] {
    std::vector<std::string> header(features->columns().names().begin(),
                                    features->columns().names().end());
    return CsvParser::Create(*features, header, Split(), 0)->release();
  }();
  fuzz::ParseAll(*parser, data, size);
  return 0;
}
