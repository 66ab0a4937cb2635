#include "transport/van.h"

#include <glog/logging.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace sparrow::transport {

std::string TcpEndpoint(const std::string& address) {
  if (address.find("://") != std::string::npos) return address;
  return "tcp://" + address;
}

Van::Van() : context_(1), router_(context_, zmq::socket_type::router) {
  router_.set(zmq::sockopt::linger, 0);
  router_.set(zmq::sockopt::rcvhwm, 0);  // never drop: flow control is the protocol's job
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pump_wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Van::~Van() {
  Stop();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (pump_wake_fd_ >= 0) close(pump_wake_fd_);
}

Status Van::EnableCurve(const CurveKeys& keys) {
  if (!endpoint_.empty() || listening_) return FailedPrecondition("EnableCurve after Bind");
  {
    std::lock_guard<std::mutex> lock(peers_mu_);
    if (!peers_.empty()) return FailedPrecondition("EnableCurve after Connect");
  }
  if (curve_guard_) return FailedPrecondition("EnableCurve called twice");
  SPARROW_ASSIGN_OR_RETURN(curve_guard_, CurveGuard::Start(context_, router_, keys));
  curve_keys_ = keys;
  return Status::Ok();
}

uint64_t Van::refused_peers() const {
  return (curve_guard_ ? curve_guard_->refused() : 0) + (listener_ ? listener_->refused() : 0);
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
  SPARROW_ASSIGN_OR_RETURN(listener_, LinkListener::Listen(name));
  listening_ = true;
  return listener_->address();
}

void Van::Start(Handler handler, RejectHandler reject) {
  handler_ = std::move(handler);
  reject_ = std::move(reject);
  receiver_ = std::thread([this] { ReceiveLoop(); });
}

Status Van::Connect(int peer, const std::string& address) {
  const bool link = IsLinkAddress(address);
  const std::string ep = link ? address : TcpEndpoint(address);
  std::lock_guard<std::mutex> lock(peers_mu_);
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second->address == ep) return Status::Ok();
  auto p = std::make_shared<Peer>();
  p->address = ep;
  if (link) {
    Result<std::unique_ptr<LinkOut>> out = LinkOut::Connect(ep);
    if (!out.ok()) {
      return Unavailable("cannot connect to node " + std::to_string(peer) + ": " +
                         out.status().message());
    }
    p->link = std::move(out).value();
  } else {
    try {
      p->socket = zmq::socket_t(context_, zmq::socket_type::dealer);
      p->socket.set(zmq::sockopt::sndhwm, 0);
      p->socket.set(zmq::sockopt::linger, 500);
      // With no high-water mark a send only waits when the socket has no pipe to queue on:
      // after a refused handshake (a peer with other CURVE keys, or none) until ZeroMQ
      // reconnects, which after some failures it never does. Give up then, with an error,
      // instead of blocking the sending thread forever.
      p->socket.set(zmq::sockopt::sndtimeo, kSendTimeoutMs);
      if (curve_guard_) {
        // The peer's ROUTER must prove it holds the cluster's secret key, and we present
        // the cluster's keypair, which its ZAP handler admits.
        p->socket.set(zmq::sockopt::curve_serverkey, curve_keys_.public_key);
        p->socket.set(zmq::sockopt::curve_publickey, curve_keys_.public_key);
        p->socket.set(zmq::sockopt::curve_secretkey, curve_keys_.secret_key);
      }
      p->socket.connect(ep);
    } catch (const zmq::error_t& e) {
      return Unavailable("cannot connect to node " + std::to_string(peer) + " at " + ep + ": " +
                         e.what());
    }
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
  if (p->link) {
    Status st = p->link->Send(std::move(head), &msg.frames);
    if (!st.ok()) {
      return Unavailable("send to node " + std::to_string(peer) + " failed: " + st.message());
    }
    if (p->link->pending()) Wake();
    return Status::Ok();
  }
  if (!p->socket) return Unavailable("connection to node " + std::to_string(peer) + " closed");
  try {
    const size_t n = msg.frames.size();
    // Only the first frame can time out: once it is queued, the rest join it on its pipe.
    if (!p->socket.send(head, n ? zmq::send_flags::sndmore : zmq::send_flags::none)) {
      return Unavailable("send to node " + std::to_string(peer) + " at " + p->address +
                         " timed out: no connection after " + std::to_string(kSendTimeoutMs) +
                         " ms (refused, or unreachable)");
    }
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

void Van::Wake() {
  recheck_links_.store(true);
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof(one));
}

void Van::Deliver(zmq::message_t& head, std::vector<zmq::message_t>&& frames) {
  Message msg;
  msg.frames = std::move(frames);
  msg.AlignFrames();
  Status st = DecodeHeader(head, &msg.header);
  if (!st.ok()) {
    LOG(WARNING) << "rejected a message from node " << msg.header.sender() << ": " << st.message();
    if (reject_) reject_(msg.header, st);
    return;
  }
  handler_(std::move(msg));
}

bool Van::ReceiveRouter() {
  // ROUTER prepends the sending DEALER's identity; we route by node id in the header.
  zmq::message_t identity, head;
  if (!router_.recv(identity, zmq::recv_flags::dontwait)) return false;
  if (!router_.get(zmq::sockopt::rcvmore)) return true;  // an empty message: nothing to do
  (void)router_.recv(head, zmq::recv_flags::none);
  std::vector<zmq::message_t> frames;
  while (router_.get(zmq::sockopt::rcvmore)) {
    zmq::message_t f;
    (void)router_.recv(f, zmq::recv_flags::none);
    frames.push_back(std::move(f));
  }
  Deliver(head, std::move(frames));
  return true;
}

void Van::ReadLinks(std::vector<std::unique_ptr<LinkIn>>* links, const std::vector<bool>& ready) {
  std::vector<std::vector<zmq::message_t>> got;
  for (size_t i = 0; i < links->size(); ++i) {
    if (!ready[i]) continue;
    Status st = (*links)[i]->Read(&got);
    for (auto& frames : got) {
      zmq::message_t head = std::move(frames.front());
      frames.erase(frames.begin());
      Deliver(head, std::move(frames));
    }
    got.clear();
    if (!st.ok()) {
      // The sender is gone (its node will be declared dead) or spoke garbage.
      LOG(WARNING) << "dropping an incoming link: " << st.message();
      (*links)[i].reset();
    }
  }
  links->erase(std::remove(links->begin(), links->end(), nullptr), links->end());
}

void Van::ServeLinks(const std::vector<bool>& ready, bool accept) {
  ReadLinks(&inbound_, ready);
  while (accept && listener_) {
    std::unique_ptr<LinkIn> in = listener_->Accept();
    if (!in) break;
    if (!pump_links_) {
      inbound_.push_back(std::move(in));
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(accepted_mu_);
      accepted_.push_back(std::move(in));
    }
    WakePump();  // a pump waiting in poll() returns, and the next one adopts the link
  }
}

namespace {

// poll_once(timeout_ms) polls once and returns how many sources are ready. Polls without
// waiting until one is, for up to `spin_us` (when `spin`), then waits up to `timeout_ms`.
template <typename PollOnce>
int SpinThenPoll(bool spin, int spin_us, int timeout_ms, PollOnce poll_once) {
  if (spin && spin_us > 0) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
    do {
      const int ready = poll_once(0);
      if (ready != 0) return ready;
    } while (std::chrono::steady_clock::now() < until);
  }
  return poll_once(timeout_ms);
}

}  // namespace

void Van::Pump(int timeout_ms) {
  if (!pump_links_) return;
  std::lock_guard<std::mutex> lock(pump_mu_);
  if (stop_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> accepted(accepted_mu_);
    for (auto& in : accepted_) pumped_.push_back(std::move(in));
    accepted_.clear();
  }
  std::vector<pollfd> fds;
  fds.push_back({pump_wake_fd_, POLLIN, 0});
  for (const auto& in : pumped_) fds.push_back({in->fd(), POLLIN, 0});
  // A pump runs because its caller waits for a reply: always worth the spin.
  const int polled = SpinThenPoll(true, poll_spin_us_, timeout_ms,
                                  [&](int t) { return poll(fds.data(), fds.size(), t); });
  if (polled <= 0) return;
  // Woken (WakePump, or a link accepted meanwhile, which the next Pump adopts): return,
  // after reading what the links hold.
  if (fds[0].revents & POLLIN) {
    uint64_t n;
    (void)!read(pump_wake_fd_, &n, sizeof(n));
  }
  std::vector<bool> ready(pumped_.size());
  for (size_t i = 0; i < pumped_.size(); ++i) {
    ready[i] = (fds[i + 1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
  }
  ReadLinks(&pumped_, ready);
}

void Van::WakePump() {
  const uint64_t one = 1;
  if (pump_wake_fd_ >= 0) (void)!write(pump_wake_fd_, &one, sizeof(one));
}

std::vector<std::shared_ptr<Van::Peer>> Van::PendingLinks() {
  std::vector<std::shared_ptr<Peer>> out;
  std::lock_guard<std::mutex> lock(peers_mu_);
  for (const auto& [id, p] : peers_) {
    if (p->link && p->link->pending()) out.push_back(p);
  }
  return out;
}

void Van::ReceiveLoop() {
  // One poll over the ROUTER, the wake-up eventfd, the link listener, every accepted link
  // (readable) and every link with queued bytes (writable). The timeout lets the loop
  // notice Stop() soon.
  std::vector<zmq::pollitem_t> items;
  std::vector<std::shared_ptr<Peer>> writers;
  bool busy = false;  // the last poll found work: spin before sleeping (SetPollSpin)
  while (!stop_.load(std::memory_order_acquire)) {
    // Links gain queued bytes only in a Send that then Wake()s us: rescan the peers after a
    // wake-up, or while some link still has bytes queued; otherwise not once per message.
    if (recheck_links_.exchange(false) || !writers.empty()) writers = PendingLinks();
    items.clear();
    items.push_back({router_.handle(), 0, ZMQ_POLLIN, 0});
    items.push_back({nullptr, wake_fd_, ZMQ_POLLIN, 0});
    const size_t listen_at = items.size();
    if (listener_) items.push_back({nullptr, listener_->fd(), ZMQ_POLLIN, 0});
    const size_t first_in = items.size();
    for (const auto& in : inbound_) items.push_back({nullptr, in->fd(), ZMQ_POLLIN, 0});
    const size_t first_out = items.size();
    for (const auto& w : writers) items.push_back({nullptr, w->link->fd(), ZMQ_POLLOUT, 0});
    try {
      // Only links are worth a spin: a ZeroMQ message reaches the ROUTER through ZeroMQ's
      // I/O thread, which sleeps and wakes regardless, and on a small host needs the core
      // a spin would take (bench kv over ZeroMQ: 100-key pull p99 275-310 us -> 347-373).
      busy = SpinThenPoll(busy && !inbound_.empty(), poll_spin_us_, 20, [&](int t) {
               return zmq::poll(items.data(), items.size(), std::chrono::milliseconds(t));
             }) > 0;
      if (items[1].revents & ZMQ_POLLIN) {
        uint64_t n;
        (void)!read(wake_fd_, &n, sizeof(n));
      }
      for (size_t i = first_out; i < items.size(); ++i) {
        if (items[i].revents & (ZMQ_POLLOUT | ZMQ_POLLERR)) {
          (void)writers[i - first_out]->link->Flush();  // a broken link fails the next Send
        }
      }
      std::vector<bool> ready(inbound_.size());
      for (size_t i = 0; i < inbound_.size(); ++i) {
        ready[i] = (items[first_in + i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) != 0;
      }
      ServeLinks(ready, listener_ && (items[listen_at].revents & ZMQ_POLLIN));
      // A bounded batch, so a busy ROUTER cannot starve the links.
      if (items[0].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 64 && ReceiveRouter(); ++i) {
        }
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) break;
      LOG(WARNING) << "receive failed: " << e.what();
    }
  }
}

void Van::Stop(int linger_ms) {
  if (stop_.exchange(true)) return;
  Wake();  // the receive thread notices at once, not at the end of its poll's timeout
  if (receiver_.joinable()) receiver_.join();
  {
    std::lock_guard<std::mutex> lock(pump_mu_);  // waits out a Pump() under way
    pumped_.clear();
    std::lock_guard<std::mutex> accepted(accepted_mu_);
    accepted_.clear();
  }
  std::lock_guard<std::mutex> lock(peers_mu_);
  for (auto& [id, p] : peers_) {
    std::lock_guard<std::mutex> plock(p->mu);
    if (p->link) {
      p->link->Drain(linger_ms);
      p->link.reset();
      continue;
    }
    p->socket.set(zmq::sockopt::linger, linger_ms);
    p->socket.close();
  }
  inbound_.clear();
  listener_.reset();
  if (curve_guard_) curve_guard_->Stop();  // its sockets must close before the context
  router_.close();
  context_.close();
}

}  // namespace sparrow::transport
