// CURVE: authenticated, encrypted ZeroMQ traffic between the nodes of one cluster.
//
// One keypair per cluster (`sparrow keygen`, or one that `sparrow train` makes for a run).
// Every node holds it: its ROUTER is a CURVE server with the cluster's secret key, and its
// DEALERs are CURVE clients that expect the cluster's public key as the server's and
// present the cluster's keypair as their own. The CURVE handshake proves that a client
// holds the secret key of the public key it presents; the ZAP handler here then admits a
// client only if that key is the cluster's. So a process joins the cluster exactly when it
// holds the cluster's secret key, and every other one is refused during the handshake,
// before any of its messages reaches the node. (Per-role keys with an allow list would
// only matter if one node were trusted less than another; in Sparrow every node may push
// to every key, so one key loses nothing and needs no list to distribute.)
//
// A refused peer costs the node nothing but a log line: the handshake fails inside
// ZeroMQ's I/O thread and the ROUTER never sees the connection. CurveGuard logs it (at most
// one line per kind of refusal every kLogEveryS seconds, with the number held back, since
// a refused DEALER reconnects every 100 ms) and counts it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "core/status.h"

namespace sparrow::transport {

struct CurveKeys {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh keypair (zmq_curve_keypair). Fails if libzmq was built without CURVE.
Result<CurveKeys> NewCurveKeys();

// Writes `keys` to a new file `path` with mode 0600 (the secret key admits its holder to
// the cluster). Fails if `path` exists: a keypair in use is never overwritten.
Status WriteCurveKeys(const std::string& path, const CurveKeys& keys);

// Reads a file WriteCurveKeys wrote. Fails, naming the file, if it is unreadable,
// malformed, its public key does not belong to its secret key, or group or others may
// read it (like ssh with a private key: a secret others can read is no secret).
Result<CurveKeys> ReadCurveKeys(const std::string& path);

// Admits to a CURVE ROUTER only clients that present `keys.public_key`, and logs and counts
// the refused. Owns a thread that serves ZAP requests (inproc://zeromq.zap.01 of the
// ROUTER's context) and reads the ROUTER's handshake-failure events.
//
// Thread safety: Start() on the thread that owns the ROUTER, before it binds; refused()
// from any thread; the destructor (or Stop()) before the ROUTER and its context close.
class CurveGuard {
 public:
  static constexpr int kLogEveryS = 10;

  // Makes `router` a CURVE server with `keys` and starts guarding it. The ZAP handler is
  // bound before this returns, so no connection is ever admitted unchecked; and the
  // ROUTER enforces its ZAP domain, so if the handler were gone it would refuse, not admit.
  static Result<std::unique_ptr<CurveGuard>> Start(zmq::context_t& context, zmq::socket_t& router,
                                                   const CurveKeys& keys);
  ~CurveGuard();  // Stop()s
  CurveGuard(const CurveGuard&) = delete;
  CurveGuard& operator=(const CurveGuard&) = delete;

  // Connections refused so far (failed CURVE handshakes of any kind).
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  // Joins the thread and closes its sockets. Idempotent.
  void Stop();

 private:
  CurveGuard(zmq::socket_t zap, zmq::socket_t monitor, std::string allowed);
  void Loop();
  void ServeZap();     // answers one ZAP request
  void ReadMonitor();  // reads one ROUTER event
  // Logs `line` unless a line of the same `kind` went out in the last kLogEveryS seconds.
  void Log(const std::string& kind, const std::string& line);

  zmq::socket_t zap_;          // REP at inproc://zeromq.zap.01; the guard's thread only
  zmq::socket_t monitor_;      // PAIR receiving the ROUTER's events; the guard's thread only
  const std::string allowed_;  // the cluster's public key, 32 bytes
  std::atomic<uint64_t> refused_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  struct Logged {
    int64_t at_ms = 0;       // when a line of this kind last went out
    uint64_t held_back = 0;  // refusals of this kind not logged since
  };
  std::map<std::string, Logged> logged_;  // by kind; the guard's thread only
};

}  // namespace sparrow::transport
