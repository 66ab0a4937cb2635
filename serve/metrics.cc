#include "serve/metrics.h"

#include <cstdio>

#include "serve/json_writer.h"

namespace sparrow::serve {

const char* EndpointName(Endpoint e) {
  switch (e) {
    case Endpoint::kScore:
      return "score";
    case Endpoint::kModel:
      return "model";
    case Endpoint::kHealthz:
      return "healthz";
    case Endpoint::kReadyz:
      return "readyz";
    case Endpoint::kMetrics:
      return "metrics";
    case Endpoint::kReload:
      return "reload";
    case Endpoint::kOther:
      return "other";
    case Endpoint::kBinary:
      return "binary";
    case Endpoint::kCount:
      break;
  }
  return "other";
}

size_t Metrics::CodeIndex(int code) {
  for (size_t i = 0; i + 1 < kCodes.size(); ++i) {
    if (kCodes[i] == code) return i;
  }
  return kCodes.size() - 1;
}

void Metrics::CountRequest(Endpoint e, int code) {
  requests_[static_cast<size_t>(e)][CodeIndex(code)].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::ObserveLatency(Endpoint e, uint64_t micros) {
  Histogram& h = latency_[static_cast<size_t>(e)];
  size_t b = 0;
  while (b < kBucketsUs.size() && micros > kBucketsUs[b]) ++b;
  h.buckets[b].fetch_add(1, std::memory_order_relaxed);
  h.sum_us.fetch_add(micros, std::memory_order_relaxed);
}

void Metrics::SetModel(const std::string& id, const std::string& version, uint64_t generation) {
  std::lock_guard<std::mutex> lock(model_mu_);
  model_id_ = id;
  model_version_ = version;
  generation_ = generation;
}

std::string Metrics::Render() const {
  std::string out;
  char line[256];
  out +=
      "# HELP sparrow_serve_requests_total Requests answered, by endpoint and status code.\n"
      "# TYPE sparrow_serve_requests_total counter\n";
  for (size_t e = 0; e < kEndpoints; ++e) {
    for (size_t c = 0; c < kCodes.size(); ++c) {
      const uint64_t n = requests_[e][c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string code = kCodes[c] == 0 ? "other" : std::to_string(kCodes[c]);
      std::snprintf(
          line, sizeof(line), "sparrow_serve_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n",
          EndpointName(static_cast<Endpoint>(e)), code.c_str(), static_cast<unsigned long long>(n));
      out += line;
    }
  }
  out +=
      "# HELP sparrow_serve_request_duration_seconds Latency of scoring requests.\n"
      "# TYPE sparrow_serve_request_duration_seconds histogram\n";
  for (Endpoint e : {Endpoint::kScore, Endpoint::kBinary}) {
    const Histogram& h = latency_[static_cast<size_t>(e)];
    uint64_t cum = 0;
    for (size_t b = 0; b <= kBucketsUs.size(); ++b) {
      cum += h.buckets[b].load(std::memory_order_relaxed);
      if (b < kBucketsUs.size()) {
        std::snprintf(
            line, sizeof(line),
            "sparrow_serve_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
            EndpointName(e), kBucketsUs[b] / 1e6, static_cast<unsigned long long>(cum));
      } else {
        std::snprintf(
            line, sizeof(line),
            "sparrow_serve_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
            EndpointName(e), static_cast<unsigned long long>(cum));
      }
      out += line;
    }
    std::snprintf(line, sizeof(line),
                  "sparrow_serve_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
                  "sparrow_serve_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                  EndpointName(e), h.sum_us.load(std::memory_order_relaxed) / 1e6, EndpointName(e),
                  static_cast<unsigned long long>(cum));
    out += line;
  }
  auto scalar = [&](const char* name, const char* type, const char* help, double v) {
    std::snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name,
                  type, name, v);
    out += line;
  };
  scalar("sparrow_serve_rows_scored_total", "counter", "Rows scored.",
         static_cast<double>(rows_.load(std::memory_order_relaxed)));
  scalar("sparrow_serve_unknown_columns_total", "counter", "Unknown columns ignored.",
         static_cast<double>(unknown_.load(std::memory_order_relaxed)));
  scalar("sparrow_serve_pending", "gauge", "Requests admitted and not yet answered.",
         static_cast<double>(pending_.load(std::memory_order_relaxed)));
  out +=
      "# HELP sparrow_serve_shed_total Scoring requests answered 503 without scoring.\n"
      "# TYPE sparrow_serve_shed_total counter\n";
  for (const auto& [reason, name] :
       {std::pair{ShedReason::kQueue, "queue"}, std::pair{ShedReason::kPending, "pending"}}) {
    std::snprintf(line, sizeof(line), "sparrow_serve_shed_total{reason=\"%s\"} %llu\n", name,
                  static_cast<unsigned long long>(
                      shed_[static_cast<size_t>(reason)].load(std::memory_order_relaxed)));
    out += line;
  }
  scalar("sparrow_serve_reloads_total", "counter", "Models loaded after the first.",
         static_cast<double>(reloads_.load(std::memory_order_relaxed)));
  scalar("sparrow_serve_reload_failures_total", "counter", "Reloads rejected (old model kept).",
         static_cast<double>(reload_failures_.load(std::memory_order_relaxed)));
  std::lock_guard<std::mutex> lock(model_mu_);
  scalar("sparrow_serve_model_generation", "gauge", "Models loaded by this process.",
         static_cast<double>(generation_));
  out +=
      "# HELP sparrow_serve_model_info The model serving now.\n"
      "# TYPE sparrow_serve_model_info gauge\nsparrow_serve_model_info{model=";
  AppendJsonString(&out, model_id_);  // a JSON string literal is a valid label value
  out += ",version=\"" + model_version_ + "\"} 1\n";
  return out;
}

}  // namespace sparrow::serve
