// HttpServer: the daemon's JSON/HTTP front end on libmicrohttpd (its internal epoll
// thread, or a pool of them; each thread scores inline with its own ScoreWorker, so a
// request never changes threads).
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
// Retry-After when max_pending requests are already admitted. Connections idle for
// connection_timeout_s are closed.
//
// Thread safety: Start/StopAccepting/Stop from one controlling thread.
#pragma once

#include <microhttpd.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "serve/serve_context.h"

namespace sparrow::serve {

class HttpServer {
 public:
  // Listens on "HOST:PORT" (port 0: any free port; see port()). ctx must outlive this.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& host_port, ServeContext* ctx);
  ~HttpServer();  // Stop()

  uint16_t port() const { return port_; }
  // Closes the listening socket; connections already open are still served.
  void StopAccepting();
  // Closes every connection and joins the threads.
  void Stop();

 private:
  HttpServer() = default;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace sparrow::serve
