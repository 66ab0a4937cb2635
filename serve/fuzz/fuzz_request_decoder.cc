// libFuzzer target: the daemon's hot path for one POST /v1/score body — JSON decode, the
// model's feature spec, scoring, reason codes and the response — exactly as an HTTP thread
// runs it (ScoreWorker::ScoreJson). Needs a model: SPARROW_FUZZ_MODEL=path/to/model.bin
// (a CSV model such as gmsc_lr, or a LIBSVM one such as a9a_fm, to reach both encoders).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "serve/score_worker.h"

namespace {

const sparrow::serve::ServingModel* model = nullptr;
sparrow::serve::OutputOptions options;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* path = std::getenv("SPARROW_FUZZ_MODEL");
  if (path == nullptr) {
    std::fprintf(stderr, "fuzz_request_decoder: set SPARROW_FUZZ_MODEL to a model file\n");
    std::exit(2);
  }
  auto m = sparrow::serve::ServingModel::Load(path, 1);
  if (!m.ok()) {
    std::fprintf(stderr, "fuzz_request_decoder: %s\n", m.status().message().c_str());
    std::exit(2);
  }
  static std::shared_ptr<const sparrow::serve::ServingModel> keep = *m;
  model = keep.get();
  sparrow::serve::ServeConfig config;
  config.mutable_scorecard();
  config.mutable_pricing();
  options = sparrow::serve::ResolveOutputs(config);
  options.limits.max_records = 64;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sparrow::serve::ScoreWorker worker;
  // The daemon's body buffer: the bytes, then simdjson's padding.
  static std::string body;
  body.assign(reinterpret_cast<const char*>(data), size);
  body.reserve(size + simdjson::SIMDJSON_PADDING);
  std::string response;
  uint64_t rows = 0, unknown = 0;
  const int status = worker.ScoreJson(
      *model, options, simdjson::padded_string_view(body.data(), body.size(), body.capacity()),
      &response, &rows, &unknown);
  if (status != 200 && status != 400) std::abort();
  if (status == 200 && rows == 0) std::abort();  // a 200 always scores something
  return 0;
}
