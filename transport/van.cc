#include "transport/van.h"

#include <glog/logging.h>

namespace sparrow::transport {

std::string TcpEndpoint(const std::string& address) {
  if (address.find("://") != std::string::npos) return address;
  return "tcp://" + address;
}

Van::Van() : context_(1), router_(context_, zmq::socket_type::router) {
  router_.set(zmq::sockopt::rcvtimeo, 20);  // lets the receive loop notice Stop() soon
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::rcvhwm, 0);  // never drop: flow control is the protocol's job
}

Van::~Van() {
  Stop();
}

Result<std::string> Van::Bind(const std::string& address) {
  const std::string ep = TcpEndpoint(address);
  try {
    router_.bind(ep);
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot bind " + ep + ": " + e.what());
  }
  endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  return endpoint_;
}

Result<std::string> Van::BindLocal(const std::string& name) {
  const std::string ep = "ipc://@" + name;
  try {
    router_.bind(ep);
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot bind " + ep + ": " + e.what());
  }
  return ep;
}

void Van::Start(Handler handler, RejectHandler reject) {
  handler_ = std::move(handler);
  reject_ = std::move(reject);
  receiver_ = std::thread([this] { ReceiveLoop(); });
}

Status Van::Connect(int peer, const std::string& address) {
  const std::string ep = TcpEndpoint(address);
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second->address == ep) return Status::Ok();
  auto p = std::make_shared<Peer>();
  p->address = ep;
  try {
    p->socket = zmq::socket_t(context_, zmq::socket_type::dealer);
    p->socket.set(zmq::sockopt::sndhwm, 0);
    p->socket.set(zmq::sockopt::linger, 500);
    p->socket.connect(ep);
  } catch (const zmq::error_t& e) {
    return Unavailable("cannot connect to node " + std::to_string(peer) + " at " + ep + ": " +
                       e.what());
  }
  peers_[peer] = std::move(p);
  return Status::Ok();
}

bool Van::Connected(int peer) const {
  std::lock_guard<std::mutex> lock(peers_mu_);
  return peers_.count(peer) > 0;
}

std::string Van::PeerAddress(int peer) const {
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? std::string() : it->second->address;
}

Status Van::Send(int peer, Message& msg) {
  std::shared_ptr<Peer> p;
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    auto it = peers_.find(peer);
    if (it == peers_.end()) {
      return Unavailable("no connection to node " + std::to_string(peer));
    }
    p = it->second;
  }
  zmq::message_t head = EncodeHeader(msg.header);
  std::lock_guard<std::mutex> lock(p->mu);
  if (!p->socket) return Unavailable("connection to node " + std::to_string(peer) + " closed");
  try {
    const size_t n = msg.frames.size();
    p->socket.send(head, n ? zmq::send_flags::sndmore : zmq::send_flags::none);
    for (size_t i = 0; i < n; ++i) {
      p->socket.send(msg.frames[i], i + 1 < n ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  } catch (const zmq::error_t& e) {
    return Unavailable("send to node " + std::to_string(peer) + " at " + p->address +
                       " failed: " + e.what());
  }
  msg.frames.clear();
  return Status::Ok();
}

bool Van::ReceiveOne(Message* msg, zmq::message_t* identity) {
  // ROUTER prepends the sending DEALER's identity; we route by node id in the header.
  auto r = router_.recv(*identity, zmq::recv_flags::none);
  if (!r) return false;
  zmq::message_t head;
  bool more = router_.get(zmq::sockopt::rcvmore);
  if (!more) return false;
  (void)router_.recv(head, zmq::recv_flags::none);
  more = router_.get(zmq::sockopt::rcvmore);
  while (more) {
    zmq::message_t f;
    (void)router_.recv(f, zmq::recv_flags::none);
    msg->frames.push_back(std::move(f));
    more = router_.get(zmq::sockopt::rcvmore);
  }
  msg->AlignFrames();
  Status st = DecodeHeader(head, &msg->header);
  if (!st.ok()) {
    LOG(WARNING) << "rejected a message from node " << msg->header.sender() << ": " << st.message();
    if (reject_) reject_(msg->header, st);
    return false;
  }
  return true;
}

void Van::ReceiveLoop() {
  while (!stop_.load(std::memory_order_acquire)) {
    Message msg;
    zmq::message_t identity;
    try {
      if (!ReceiveOne(&msg, &identity)) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      LOG(WARNING) << "receive failed: " << e.what();
      continue;
    }
    handler_(std::move(msg));
  }
}

void Van::Stop(int linger_ms) {
  if (stop_.exchange(true)) return;
  if (receiver_.joinable()) receiver_.join();
  std::lock_guard<std::mutex> lock(peers_mu_);
  for (auto& [id, p] : peers_) {
    std::lock_guard<std::mutex> plock(p->mu);
    p->socket.set(zmq::sockopt::linger, linger_ms);
    p->socket.close();
  }
  router_.close();
  context_.close();
}

}  // namespace sparrow::transport
