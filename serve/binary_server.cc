#include "serve/binary_server.h"

#include <glog/logging.h>

#include <chrono>
#include <vector>

namespace sparrow::serve {

Result<std::unique_ptr<BinaryServer>> BinaryServer::Start(const std::string& endpoint,
                                                          ServeContext* ctx) {
  std::unique_ptr<BinaryServer> s(new BinaryServer());
  s->ctx_ = ctx;
  try {
    s->socket_ = zmq::socket_t(s->zctx_, zmq::socket_type::router);
    s->socket_.set(zmq::sockopt::linger, 1000);
    s->socket_.bind(endpoint);
    s->endpoint_ = s->socket_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot bind binary endpoint " + endpoint + ": " + e.what());
  }
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

void BinaryServer::Loop() {
  ScoreWorker worker;
  ModelSlot::Cache cache;
  ScoreRequest request;
  ScoreResponse response;
  std::string reply;
  std::vector<zmq::message_t> frames;
  zmq::pollitem_t item{static_cast<void*>(socket_), 0, ZMQ_POLLIN, 0};
  while (!stop_.load(std::memory_order_relaxed)) {
    if (zmq::poll(&item, 1, std::chrono::milliseconds(50)) == 0) continue;
    // One message: identity, [empty delimiter from a REQ client], payload.
    frames.clear();
    do {
      frames.emplace_back();
      if (!socket_.recv(frames.back(), zmq::recv_flags::dontwait)) {
        frames.pop_back();
        break;
      }
    } while (frames.back().more());
    if (frames.size() < 2) continue;
    const auto start = std::chrono::steady_clock::now();
    const zmq::message_t& payload = frames.back();
    const ServingModel* model = ctx_->slot.Current(&cache);
    if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      response.Clear();
      response.set_error("malformed ScoreRequest (not a serialized sparrow.serve.ScoreRequest)");
    } else if (model == nullptr) {
      response.Clear();
      response.set_error("no model loaded");
    } else {
      worker.ScoreProto(*model, ctx_->outputs, request, &response);
    }
    response.SerializeToString(&reply);
    const bool ok = response.error().empty();
    if (ok) ctx_->metrics.AddRows(static_cast<uint64_t>(response.scores_size()));
    try {
      for (size_t i = 0; i + 1 < frames.size(); ++i) {
        socket_.send(frames[i], zmq::send_flags::sndmore);
      }
      socket_.send(zmq::buffer(reply), zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      LOG(WARNING) << "binary endpoint: cannot reply: " << e.what();
    }
    ctx_->metrics.CountRequest(Endpoint::kBinary, ok ? 200 : 400);
    ctx_->metrics.ObserveLatency(
        Endpoint::kBinary,
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count()));
  }
  socket_.close();
}

void BinaryServer::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  thread_.join();
}

BinaryServer::~BinaryServer() {
  Stop();
}

}  // namespace sparrow::serve
