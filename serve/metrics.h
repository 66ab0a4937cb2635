// The daemon's counters, exported in Prometheus text format at GET /metrics.
//
//   sparrow_serve_requests_total{endpoint,code}     requests answered, by endpoint and status
//   sparrow_serve_request_duration_seconds{endpoint="score"}  histogram, headers in to
//                                                   response out (HTTP) or receive to send
//   sparrow_serve_rows_scored_total                 rows scored (HTTP and binary)
//   sparrow_serve_unknown_columns_total             columns dropped under unknown_column IGNORE
//   sparrow_serve_pending                           requests admitted and not yet answered
//   sparrow_serve_shed_total{reason}                scoring requests answered 503 without
//                                                   scoring: "queue" (reached past
//                                                   max_queue_ms), "pending" (max_pending)
//   sparrow_serve_model_info{model,version} 1       the model serving now
//   sparrow_serve_model_generation                  loads so far (1 = the first model)
//   sparrow_serve_reloads_total, sparrow_serve_reload_failures_total
//
// Thread safety: every method may be called from any thread; counters are relaxed atomics
// (a scrape sees each counter exact, not a snapshot across counters).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace sparrow::serve {

enum class Endpoint : uint8_t {
  kScore,
  kModel,
  kHealthz,
  kReadyz,
  kMetrics,
  kReload,
  kOther,
  kBinary,
  kCount
};
const char* EndpointName(Endpoint e);

// Why a scoring request was shed (answered 503 + Retry-After without scoring).
enum class ShedReason : uint8_t { kQueue, kPending, kCount };

class Metrics {
 public:
  // Status codes tracked by name; any other lands in "other".
  static constexpr std::array<int, 10> kCodes = {200, 400, 401, 404, 405, 413, 500, 503, 422, 0};
  // Upper bounds of the latency buckets, in microseconds.
  static constexpr std::array<uint32_t, 14> kBucketsUs = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

  void CountRequest(Endpoint e, int code);
  void ObserveLatency(Endpoint e, uint64_t micros);
  void AddRows(uint64_t n) { rows_.fetch_add(n, std::memory_order_relaxed); }
  void AddUnknownColumns(uint64_t n) { unknown_.fetch_add(n, std::memory_order_relaxed); }
  void CountReload(bool ok) {
    (ok ? reloads_ : reload_failures_).fetch_add(1, std::memory_order_relaxed);
  }
  void CountShed(ShedReason r) {
    shed_[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  void SetModel(const std::string& id, const std::string& version, uint64_t generation);
  std::atomic<int64_t>& pending() { return pending_; }

  // The Prometheus text exposition of everything above.
  std::string Render() const;

 private:
  static size_t CodeIndex(int code);
  static constexpr size_t kEndpoints = static_cast<size_t>(Endpoint::kCount);

  std::array<std::array<std::atomic<uint64_t>, kCodes.size()>, kEndpoints> requests_{};
  struct Histogram {
    std::array<std::atomic<uint64_t>, kBucketsUs.size() + 1> buckets{};  // last: +Inf
    std::atomic<uint64_t> sum_us{0};
  };
  std::array<Histogram, kEndpoints> latency_{};
  std::atomic<uint64_t> rows_{0}, unknown_{0}, reloads_{0}, reload_failures_{0};
  std::atomic<int64_t> pending_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(ShedReason::kCount)> shed_{};
  mutable std::mutex model_mu_;  // guards the three below (changed only on reload)
  std::string model_id_, model_version_;
  uint64_t generation_ = 0;
};

}  // namespace sparrow::serve
