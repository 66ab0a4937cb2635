// HttpLoad: a closed-loop HTTP/1.1 load generator on one thread and one epoll — N
// keep-alive connections, each sending the same request again as soon as the answer to the
// previous one is in (what `wrk -t1 -cN` does), for a fixed time. Unlike wrk it tells the
// answers apart: 200s, 503s (load shed) and anything else, with the latency of the 200s on
// their own (a fast 503 must not flatter the p99 of the requests that were scored).
//
// Contract: only for servers that answer with Content-Length (libmicrohttpd does for
// buffer responses); a chunked or unframed answer is counted as an error. Needs about
// `connections` + 16 open files: see serve::RaiseOpenFileLimit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sparrow::bench {

struct HttpLoadOptions {
  std::string host = "127.0.0.1";  // IPv4 address
  uint16_t port = 0;
  std::string request;  // one full request (keep-alive), sent as is; see PostRequest
  int connections = 64;
  double seconds = 3;
  // After a 503 with Retry-After: S, wait S seconds before the next request on that
  // connection, as a well-behaved client does. false: send again at once (a retry storm).
  bool honor_retry_after = true;
};

// Latencies in microseconds, ~3% resolution (32 sub-buckets per power of two).
class LatencyHistogram {
 public:
  LatencyHistogram();
  void Add(uint64_t us);
  uint64_t count() const { return count_; }
  // The upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  uint64_t Quantile(double q) const;

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
};

struct HttpLoadResult {
  double seconds = 0;                     // from the first connect to the end of the run
  uint64_t ok = 0;                        // 200
  uint64_t shed = 0;                      // 503
  uint64_t shed_without_retry_after = 0;  // 503s that named no Retry-After
  uint64_t other = 0;                     // any other status
  uint64_t errors = 0;           // failed connects, resets, EOF or garbage before a whole answer
  uint64_t reconnects = 0;       // connections the server closed after an answer, reopened
  uint64_t unanswered = 0;       // requests in flight when the time was up
  int max_open = 0;              // most connections established at once
  int answered_connections = 0;  // connections that got at least one answer
  LatencyHistogram ok_latency, shed_latency;
  std::string first_error;  // the first error or unexpected status, for the report

  double ok_per_s() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
};

// "POST PATH HTTP/1.1" with Host, Content-Type: application/json and Content-Length.
std::string PostRequest(const std::string& path, const std::string& body);

// Runs the load. Never throws; a connection that fails is counted and opened again (so a
// server that refuses everything yields errors, not a hang) until the time is up.
HttpLoadResult RunHttpLoad(const HttpLoadOptions& options);

}  // namespace sparrow::bench
