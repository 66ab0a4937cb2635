#include "serve/serve_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <sstream>

namespace sparrow::serve {
namespace {

// Collects the parser's first error with its position.
class Collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (first.empty()) {
      first = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
    }
  }
  std::string first;
};

}  // namespace

Status ValidateServeConfig(const ServeConfig& c) {
  if (c.threads() < 1) return InvalidArgument("threads must be >= 1");
  if (c.max_body_bytes() == 0) return InvalidArgument("max_body_bytes must be > 0");
  if (c.max_records() == 0) return InvalidArgument("max_records must be > 0");
  if (c.max_pending() == 0) return InvalidArgument("max_pending must be > 0");
  if (c.max_connections() == 0) return InvalidArgument("max_connections must be > 0");
  if (c.listen_backlog() == 0) return InvalidArgument("listen_backlog must be > 0");
  if (c.has_scorecard() && !(c.scorecard().pdo() > 0 && c.scorecard().base_odds() > 0)) {
    return InvalidArgument("scorecard: pdo and base_odds must be > 0");
  }
  if (c.has_pricing() && !(c.pricing().floor() <= c.pricing().cap())) {
    return InvalidArgument("pricing: floor must be <= cap");
  }
  if (c.http().empty() && c.binary().empty()) {
    return InvalidArgument("neither http nor binary is set: nothing to listen on");
  }
  return Status::Ok();
}

Result<ServeConfig> LoadServeConfig(const std::string& path) {
  ServeConfig config;
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) return NotFound("cannot read serve config " + path);
    std::stringstream text;
    text << in.rdbuf();
    google::protobuf::TextFormat::Parser parser;
    Collector errors;
    parser.RecordErrorsTo(&errors);
    if (!parser.ParseFromString(text.str(), &config)) {
      return InvalidArgument(path + ":" + errors.first);
    }
  }
  Status st = ValidateServeConfig(config);
  if (!st.ok())
    return InvalidArgument((path.empty() ? "serve config" : path) + ": " + st.message());
  return config;
}

}  // namespace sparrow::serve
