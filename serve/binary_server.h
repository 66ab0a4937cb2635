// BinaryServer: the daemon's Protobuf-over-ZeroMQ front end for callers that batch
// (proto/serve.proto describes the protocol). One thread owns a ROUTER socket and scores
// each request inline with its own ScoreWorker; replies go back in arrival order.
//
// Thread safety: Start/Stop from one controlling thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "core/status.h"
#include "serve/serve_context.h"

namespace sparrow::serve {

class BinaryServer {
 public:
  // Binds `endpoint` (e.g. tcp://127.0.0.1:7701, or port * for any). ctx must outlive this.
  static Result<std::unique_ptr<BinaryServer>> Start(const std::string& endpoint,
                                                     ServeContext* ctx);
  ~BinaryServer();  // Stop()

  // The bound endpoint, with the real port.
  const std::string& endpoint() const { return endpoint_; }
  // Finishes the request in hand, then closes the socket and joins the thread.
  void Stop();

 private:
  BinaryServer() = default;
  void Loop();

  ServeContext* ctx_ = nullptr;
  zmq::context_t zctx_{1};
  zmq::socket_t socket_;
  std::string endpoint_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sparrow::serve
