// HttpServer: the daemon's JSON/HTTP front end on libmicrohttpd. `threads` event loops,
// each a libmicrohttpd daemon in external-epoll mode driven by a thread of ours, accept from
// one shared listening socket and score inline with their own ScoreWorker, so a request
// never changes threads.
//
//   POST /v1/score          score records (serve/request_decoder.h); score_token if set
//   GET  /v1/model          metadata of the model serving now; score_token if set
//   GET  /healthz           200 while the process runs
//   GET  /readyz            200 with a model loaded and not draining, else 503
//   GET  /metrics           Prometheus text (serve/metrics.h)
//   POST /v1/admin/reload   reload the model file now; admin_token if set
//
// Rejections: 400 (bad request, naming record and column), 401 (token), 404, 405,
// 413 (body over max_body_bytes, by Content-Length or as it arrives), 503 with
// Retry-After when max_pending requests are already admitted, or when a scoring request
// reaches its loop more than max_queue_ms after the loop's pass over ready connections
// began (it would have waited about that long: it is shed without scoring, and the
// connection stays open). Connections idle for connection_timeout_s are closed; past
// max_connections, new connections wait in the kernel's accept queue.
//
// Why our own loop and not libmicrohttpd's internal polling thread: that thread's epoll
// pass (MHD_epoll, 0.9.75 and later) calls epoll_wait again while the last call filled
// all 128 event slots, with the full timeout. When the ready connections are an exact
// multiple of 128 and all of them have been collected, the thread sleeps with every
// request read into its ready list and none answered, until a new event or the idle
// timeout (30 s): with 512 or more busy keep-alive connections throughput fell from 85k
// to under 500 req/s. Driven through MHD_run (timeout 0), its epoll_wait never blocks;
// the blocking wait is our poll() on its epoll descriptor.
//
// Thread safety: Start/StopAccepting/Stop from one controlling thread.
#pragma once

#include <microhttpd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "serve/serve_context.h"

namespace sparrow::serve {

class HttpServer {
 public:
  // Listens on "HOST:PORT" (port 0: any free port; see port()) with a backlog of
  // config.listen_backlog (warning when net.core.somaxconn caps it). ctx must outlive this.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& host_port, ServeContext* ctx);
  ~HttpServer();  // Stop()

  uint16_t port() const { return port_; }
  // Closes the listening socket; connections already open are still served. Returns once
  // no loop polls the socket any more.
  void StopAccepting();
  // Closes every connection and joins the threads.
  void Stop();

 private:
  struct Loop;
  HttpServer() = default;
  void Run(Loop* loop);
  void Wake();

  ServeContext* ctx_ = nullptr;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> accepting_{true};
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace sparrow::serve
