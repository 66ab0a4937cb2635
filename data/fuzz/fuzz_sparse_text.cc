// libFuzzer target: LIBSVM and LIBFFM lines (first byte picks the format and options).
#include "data/fuzz/fuzz_util.h"
#include "data/sparse_text_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparrow::data;
  if (size == 0) return 0;
  FeatureSpec spec;
  spec.set_format(data[0] & 1 ? LIBFFM : LIBSVM);
  spec.set_hash_indices(data[0] & 2);
  if (data[0] & 4) spec.set_max_index(1000);
  if (data[0] & 8) spec.set_max_field(8);
  if (data[0] & 16) spec.set_binarize_label_above(0);
  SparseTextParser parser(spec);
  fuzz::ParseAll(parser, data + 1, size - 1);
  return 0;
}
