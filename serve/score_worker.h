// ScoreWorker: one thread's scoring of requests, JSON (HTTP) or Protobuf (binary), with
// every buffer kept across requests so steady state allocates nothing but the response
// the HTTP library copies.
//
// Per row it writes the score (models::Prediction: probability, expected count or value),
// optionally scorecard points (logistic models) and a price (Poisson models), and, when the
// request asks, the top-k reason codes: the row's features by contribution to the margin
// (models::Contributions), largest first — for a risk model, most adverse first.
//
// Thread safety: one thread per ScoreWorker. Models are shared and immutable.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proto/serve.pb.h"
#include "serve/request_decoder.h"
#include "serve/serving_model.h"

namespace sparrow::serve {

// The outputs config asks for, resolved once.
struct OutputOptions {
  bool points = false;  // logistic models with a scorecard
  double points_offset = 0, points_factor = 0, points_sign = 1;
  bool price = false;  // Poisson models with pricing
  double severity_loading = 1, price_floor = 0, price_cap = 0;
  DecodeLimits limits;
};
OutputOptions ResolveOutputs(const ServeConfig& config);

class ScoreWorker {
 public:
  // The JSON request `body` (SIMDJSON_PADDING readable bytes past its end). Writes the
  // response body to *response; returns the HTTP status (200, or 400 with {"error": ...}).
  // *rows gets the rows scored, *unknown the unknown columns dropped.
  int ScoreJson(const ServingModel& model, const OutputOptions& opt,
                simdjson::padded_string_view body, std::string* response, uint64_t* rows,
                uint64_t* unknown);

  // A binary request. On a bad request sets response->error and no results.
  void ScoreProto(const ServingModel& model, const OutputOptions& opt, const ScoreRequest& req,
                  ScoreResponse* response);

 private:
  // Scores batch_ into margins_ after a model change has reset the per-model state.
  void Score(const ServingModel& model);
  ServingModel::Encoder* EncoderFor(const ServingModel& model);
  // Indices of row r's top-k features by contribution, into order_; returns how many.
  size_t TopReasons(const ServingModel& model, size_t r, uint32_t k);
  // Column name and raw value of the feature at position i of row r (reason codes).
  void ReasonOf(const ServingModel& model, size_t r, size_t i, std::string_view* column,
                std::string* value) const;

  // One binary record into batch_ (fields into decoded_); returns "" or the reason.
  std::string EncodeRecord(const ServingModel& model, const OutputOptions& opt, const Record& rec,
                           size_t r, ServingModel::Encoder* enc);

  static constexpr size_t kNumberText = 32;  // room for any double's shortest text
  uint64_t encoder_generation_ = 0;
  std::unique_ptr<ServingModel::Encoder> encoder_;
  simdjson::ondemand::parser parser_;
  data::Batch batch_;
  Decoded decoded_;
  scoring::Scorer::Workspace ws_;
  std::vector<float> margins_, contrib_;
  std::vector<uint32_t> order_;
  std::string value_;
  std::vector<char> numbers_;  // binary records: the text of their numbers
  size_t next_number_ = 0;
};

}  // namespace sparrow::serve
