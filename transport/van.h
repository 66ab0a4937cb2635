// Van: the transport of one node.
//
// A node binds one ROUTER socket and receives on it, on one receive thread. It sends to
// each peer over a DEALER socket connected to that peer's ROUTER. Nodes of one host may
// also listen for links (transport/link.h), Unix sockets that bypass ZeroMQ's I/O threads:
// a peer connected at a "unix://@NAME" address is sent to over a link, and the receive
// thread reads accepted links beside the ROUTER. Control and data share the transport;
// per peer, messages arrive in the order they were sent.
//
// Caller-pumped links (PumpLinksFromCallers, for workers). By default the receive thread
// reads accepted links too, so every reply wakes it, and it then wakes the thread waiting
// for the reply: two thread wake-ups a request, each a cross-core interrupt. A worker's
// links carry only replies to its own requests, which some thread waits for; in this mode
// that thread reads them itself (Pump). A reply that arrives while the requester computes
// wakes nobody, and one it waits for wakes it directly.
//
// Authentication (EnableCurve, transport/curve.h): with a cluster keypair the ROUTER admits
// only ZeroMQ peers that hold the cluster's secret key, and every DEALER proves it holds
// it. Links admit only processes of this process's uid (transport/link.h). Refused peers
// are logged and counted (refused_peers()); none of their messages reaches the handler.
//
// Thread safety: Send() and Connect() may be called from any thread (one mutex per peer,
// so sends to different peers do not contend). The handler runs on the receive thread,
// one message at a time; in the caller-pumped mode, messages from links run it on the
// pumping thread instead (one pump at a time), concurrently with the receive thread's.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "core/status.h"
#include "transport/curve.h"
#include "transport/link.h"
#include "transport/message.h"

namespace sparrow::transport {

class Van {
 public:
  // How long Send() waits for a ZeroMQ connection to queue on (see Van::Connect) before it
  // fails with Unavailable.
  static constexpr int kSendTimeoutMs = 5000;

  // Receives each well-formed message (header decoded, version checked). Data frames are
  // not yet validated: that depends on the receiver's key range.
  using Handler = std::function<void(Message&&)>;
  // Called on the receive thread with each message that was rejected (bad header, foreign
  // version) and why; `header` holds what could be parsed (sender may be -1).
  using RejectHandler = std::function<void(const wire::Header& header, const Status& why)>;

  Van();
  ~Van();  // Stop()s.
  Van(const Van&) = delete;
  Van& operator=(const Van&) = delete;

  // Authenticates every ZeroMQ connection with the cluster keypair `keys` (CURVE, see
  // transport/curve.h). Call before Bind() and Connect(). Fails if libzmq lacks CURVE.
  Status EnableCurve(const CurveKeys& keys);
  bool curve() const { return curve_guard_ != nullptr; }
  // Peers refused so far: failed CURVE handshakes and links from other users. Any thread,
  // not concurrently with Stop().
  uint64_t refused_peers() const;

  // Binds the ROUTER socket. `address` is "HOST:PORT" or "tcp://HOST:PORT"; port 0 picks a
  // free port. Returns the bound endpoint ("tcp://127.0.0.1:40123").
  Result<std::string> Bind(const std::string& address);
  // Also listens for links at "unix://@NAME" (abstract namespace: no file to clean up).
  // Call before Start(). Returns that address.
  Result<std::string> BindLocal(const std::string& name);

  // Starts the receive thread. Requires a successful Bind().
  void Start(Handler handler, RejectHandler reject = nullptr);

  // Links accepted from now on are read by Pump() instead of the receive thread. Call
  // before Start(). The handler must then be safe to run on two threads at once.
  void PumpLinksFromCallers() { pump_links_ = true; }
  // True when links are pumped and this Van listens for them (BindLocal): only then can
  // Pump() have anything to read.
  bool pumps_links() const { return pump_links_ && listening_; }

  // After a poll that found work, the receive thread (when it reads links) and Pump() poll
  // again without sleeping for up to `us` microseconds before they sleep: a message that
  // arrives in that window is read without a wake-up, which on a VM is an inter-processor
  // interrupt of tens of microseconds on each side of a round trip. Costs up to `us` of
  // CPU after each burst of messages, none while idle. 0 turns it off. Call before
  // Start().
  void SetPollSpin(int us) { poll_spin_us_ = us; }
  // Reads every message waiting on the pumped links and hands each to the handler on this
  // thread; when none is waiting, first waits up to `timeout_ms` for one, or until
  // WakePump(). Any thread; one at a time (others block until it returns). No-op unless
  // PumpLinksFromCallers().
  void Pump(int timeout_ms);
  // Makes a Pump() under way return now (or the next one at once): for a waiter whose
  // reply came another way (over ZeroMQ, handled on the receive thread) or failed. Any
  // thread.
  void WakePump();

  // Connects a DEALER to `address` under the name `peer` (a node id), or a link when the
  // address is "unix://@NAME" (which must be listening: fails otherwise). Reconnecting an
  // existing peer to the same address is a no-op; to another address replaces the socket.
  Status Connect(int peer, const std::string& address);
  bool Connected(int peer) const;
  // The address `peer` is connected at; empty if it is not.
  std::string PeerAddress(int peer) const;

  // Sends `msg` to `peer` (header frame then data frames). Frames are moved out of `msg`.
  // Fails with Unavailable if the peer is unknown or the socket refuses.
  Status Send(int peer, Message& msg);

  // Stops the receive thread and closes every socket, giving pending sends `linger_ms` to
  // leave. Idempotent. Must not be called from the handler.
  void Stop(int linger_ms = 500);

  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Peer {
    std::mutex mu;
    std::string address;
    zmq::socket_t socket;           // a ZeroMQ peer
    std::unique_ptr<LinkOut> link;  // or a peer on a link
  };

  void ReceiveLoop();
  // Takes one message off the ROUTER without waiting; false when none is there.
  bool ReceiveRouter();
  // Reads each link of *links whose `ready` entry is set (poll results, in the same
  // order), hands every message it completes to Deliver(), and drops links that closed
  // or spoke garbage.
  void ReadLinks(std::vector<std::unique_ptr<LinkIn>>* links, const std::vector<bool>& ready);
  // Reads every readable link (`ready`: poll results, in inbound_ order), then accepts
  // pending links if `accept`.
  void ServeLinks(const std::vector<bool>& ready, bool accept);
  // Decodes frame 0 and hands the message to the handler (or rejects it).
  void Deliver(zmq::message_t& head, std::vector<zmq::message_t>&& frames);
  // Links whose queue waits for the socket to take it, to poll for POLLOUT.
  std::vector<std::shared_ptr<Peer>> PendingLinks();
  void Wake();  // interrupts the receive thread's poll

  zmq::context_t context_;
  zmq::socket_t router_;
  std::string endpoint_;
  std::unique_ptr<CurveGuard> curve_guard_;  // set by EnableCurve
  CurveKeys curve_keys_;                     // what every DEALER presents, when curve()
  Handler handler_;
  RejectHandler reject_;
  std::thread receiver_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;                        // eventfd: a send left bytes queued on a link
  std::atomic<bool> recheck_links_{false};  // set by Wake(): scan for links with queued bytes
  std::unique_ptr<LinkListener> listener_;
  std::vector<std::unique_ptr<LinkIn>> inbound_;  // receive thread only

  int poll_spin_us_ = 0;
  bool listening_ = false;  // BindLocal succeeded (before Start)
  bool pump_links_ = false;
  std::mutex pump_mu_;                           // held by the thread in Pump()
  std::vector<std::unique_ptr<LinkIn>> pumped_;  // guarded by pump_mu_
  std::mutex accepted_mu_;
  std::vector<std::unique_ptr<LinkIn>> accepted_;  // for Pump() to adopt; accepted_mu_
  int pump_wake_fd_ = -1;                          // eventfd: a link was accepted

  mutable std::mutex peers_mu_;  // guards the map, not the sockets
  std::map<int, std::shared_ptr<Peer>> peers_;
};

// "127.0.0.1:5000" -> "tcp://127.0.0.1:5000"; already-prefixed addresses pass through.
std::string TcpEndpoint(const std::string& address);

}  // namespace sparrow::transport
