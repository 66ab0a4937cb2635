#include "transport/curve.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace sparrow::transport {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";  // fixed by RFC 27
constexpr char kMonitorEndpoint[] = "inproc://sparrow-curve-monitor";
constexpr char kZapDomain[] = "sparrow";
// ZMQ_ZAP_ENFORCE_DOMAIN: a draft option in libzmq 4.3 (zmq.h defines it only with
// ZMQ_BUILD_DRAFT_API), supported by Debian's build.
constexpr int kZapEnforceDomain = 93;
constexpr size_t kZ85KeyLen = 40;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

std::string Z85(const std::string& binary) {
  char out[kZ85KeyLen + 1] = {0};
  if (binary.size() != 32 ||
      !zmq_z85_encode(out, reinterpret_cast<const uint8_t*>(binary.data()), 32)) {
    return "(" + std::to_string(binary.size()) + "-byte key)";
  }
  return out;
}

}  // namespace

Result<CurveKeys> NewCurveKeys() {
  if (!zmq_has("curve")) return Unimplemented("this libzmq was built without CURVE");
  char pub[kZ85KeyLen + 1], sec[kZ85KeyLen + 1];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Internal(std::string("zmq_curve_keypair failed: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeys{pub, sec};
}

Status WriteCurveKeys(const std::string& path, const CurveKeys& keys) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable(
        "cannot create " + path + ": " + std::strerror(errno) +
        (errno == EEXIST ? " (a keypair is never overwritten; remove it first)" : ""));
  }
  // The umask can only take bits away from 0600; make sure nothing else was added.
  (void)fchmod(fd, 0600);
  const std::string text =
      "# Sparrow cluster keypair (ZeroMQ CURVE, Z85). Whoever holds this file can join the\n"
      "# cluster: keep it mode 0600 and copy it only to the cluster's hosts.\n"
      "public=" +
      keys.public_key + "\nsecret=" + keys.secret_key + "\n";
  const ssize_t n = write(fd, text.data(), text.size());
  const int e = errno;
  const bool synced = fsync(fd) == 0;
  close(fd);
  if (n != static_cast<ssize_t>(text.size()) || !synced) {
    unlink(path.c_str());
    return Unavailable("cannot write " + path + ": " + std::strerror(e));
  }
  return Status::Ok();
}

Result<CurveKeys> ReadCurveKeys(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return NotFound("cannot read the cluster keys " + path + ": " + std::strerror(errno));
  }
  if (st.st_mode & 077) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    return FailedPrecondition("the cluster keys " + path +
                              " may be read by group or others (mode " + mode + "); chmod 600 " +
                              path);
  }
  std::ifstream in(path);
  if (!in) return NotFound("cannot read the cluster keys " + path);
  CurveKeys k;
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    const std::string name = line.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : line.substr(eq + 1);
    if (name == "public") {
      k.public_key = value;
    } else if (name == "secret") {
      k.secret_key = value;
    } else {
      return InvalidArgument(path + ":" + std::to_string(no) +
                             ": expected public=KEY or secret=KEY (written by sparrow keygen)");
    }
  }
  uint8_t bin[32];
  for (const auto* key : {&k.public_key, &k.secret_key}) {
    if (key->size() != kZ85KeyLen || !zmq_z85_decode(bin, key->c_str())) {
      return InvalidArgument(path + ": " + (key == &k.public_key ? "public" : "secret") +
                             " key missing or not 40 Z85 characters");
    }
  }
  char derived[kZ85KeyLen + 1];
  if (zmq_curve_public(derived, k.secret_key.c_str()) != 0 || k.public_key != derived) {
    return InvalidArgument(path + ": the public key does not belong to the secret key");
  }
  return k;
}

// ---- CurveGuard ----

Result<std::unique_ptr<CurveGuard>> CurveGuard::Start(zmq::context_t& context,
                                                      zmq::socket_t& router,
                                                      const CurveKeys& keys) {
  if (!zmq_has("curve")) return Unimplemented("this libzmq was built without CURVE");
  uint8_t allowed[32];
  if (keys.public_key.size() != kZ85KeyLen || !zmq_z85_decode(allowed, keys.public_key.c_str())) {
    return InvalidArgument("not a CURVE public key: " + keys.public_key);
  }
  try {
    // The handler first: a CURVE socket of a context without one admits every client.
    zmq::socket_t zap(context, zmq::socket_type::rep);
    zap.set(zmq::sockopt::linger, 0);
    zap.bind(kZapEndpoint);
    router.set(zmq::sockopt::curve_server, true);
    router.set(zmq::sockopt::curve_secretkey, keys.secret_key);
    router.set(zmq::sockopt::curve_publickey, keys.public_key);
    router.set(zmq::sockopt::zap_domain, kZapDomain);
    const int on = 1;
    if (zmq_setsockopt(router.handle(), kZapEnforceDomain, &on, sizeof(on)) != 0) {
      // Without it a missing handler would admit everyone; ours is bound above and lives
      // as long as the ROUTER, so this only loses a second line of defence.
      LOG(WARNING) << "libzmq lacks ZMQ_ZAP_ENFORCE_DOMAIN: " << zmq_strerror(zmq_errno());
    }
    if (zmq_socket_monitor(router.handle(), kMonitorEndpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      return Internal(std::string("cannot monitor the ROUTER: ") + zmq_strerror(zmq_errno()));
    }
    zmq::socket_t monitor(context, zmq::socket_type::pair);
    monitor.set(zmq::sockopt::linger, 0);
    monitor.connect(kMonitorEndpoint);
    std::unique_ptr<CurveGuard> g(
        new CurveGuard(std::move(zap), std::move(monitor),
                       std::string(reinterpret_cast<const char*>(allowed), sizeof(allowed))));
    g->thread_ = std::thread([p = g.get()] { p->Loop(); });
    return g;
  } catch (const zmq::error_t& e) {
    return Unavailable(std::string("cannot set up CURVE: ") + e.what());
  }
}

CurveGuard::CurveGuard(zmq::socket_t zap, zmq::socket_t monitor, std::string allowed)
    : zap_(std::move(zap)), monitor_(std::move(monitor)), allowed_(std::move(allowed)) {}

CurveGuard::~CurveGuard() {
  Stop();
}

void CurveGuard::Stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  zap_.close();
  monitor_.close();
}

void CurveGuard::Loop() {
  while (!stop_.load(std::memory_order_acquire)) {
    zmq::pollitem_t items[] = {{zap_.handle(), 0, ZMQ_POLLIN, 0},
                               {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      // The timeout only bounds how long Stop() waits.
      zmq::poll(items, 2, std::chrono::milliseconds(100));
      if (items[0].revents & ZMQ_POLLIN) ServeZap();
      if (items[1].revents & ZMQ_POLLIN) ReadMonitor();
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      LOG(WARNING) << "CURVE guard: " << e.what();
    }
  }
}

void CurveGuard::ServeZap() {
  // RFC 27: version, request id, domain, address, routing id, mechanism, credentials...
  std::vector<zmq::message_t> req;
  do {
    zmq::message_t m;
    (void)zap_.recv(m, zmq::recv_flags::none);
    req.push_back(std::move(m));
  } while (zap_.get(zmq::sockopt::rcvmore));
  auto frame = [&](size_t i) { return i < req.size() ? req[i].to_string() : std::string(); };
  const bool curve = frame(5) == "CURVE";
  const std::string key = frame(6);
  const bool ok = curve && key == allowed_;
  if (!ok) {
    // Counted when the ROUTER reports the failed handshake (ReadMonitor).
    Log("zap " + frame(3) + " " + key, "refused a peer at " + frame(3) + ": " +
                                           (curve ? "its key " + Z85(key) + " is not this cluster's"
                                                  : "mechanism " + frame(5) + " instead of CURVE"));
  }
  const std::string reply[] = {
      "1.0", frame(1), ok ? "200" : "400", ok ? "OK" : "not this cluster's key", "", ""};
  for (size_t i = 0; i < 6; ++i) {
    zap_.send(zmq::buffer(reply[i]), i + 1 < 6 ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

void CurveGuard::ReadMonitor() {
  // Two frames: u16 event and u32 value, then the endpoint (the ROUTER's own, for an
  // accepted connection: the peer's address is known only to the ZAP handler).
  zmq::message_t ev, endpoint;
  (void)monitor_.recv(ev, zmq::recv_flags::none);
  if (!monitor_.get(zmq::sockopt::rcvmore)) return;
  (void)monitor_.recv(endpoint, zmq::recv_flags::none);
  if (ev.size() < 6) return;
  uint16_t event;
  uint32_t value;
  std::memcpy(&event, ev.data(), sizeof(event));
  std::memcpy(&value, static_cast<const char*>(ev.data()) + 2, sizeof(value));
  refused_.fetch_add(1, std::memory_order_relaxed);
  const std::string at = "refused a connection on " + endpoint.to_string() + ": ";
  switch (event) {
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      return;  // the ZAP handler logged it, with the peer's address and key
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        Log("mechanism", at + "the peer does not use CURVE (started without the cluster's keys?)");
      } else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC) {
        Log("crypto",
            at +
                "its handshake does not decrypt with this cluster's key (another cluster's keys?)");
      } else {
        Log("protocol " + Hex(value),
            at + "CURVE handshake failed (ZMTP protocol error " + Hex(value) + ")");
      }
      return;
    default:
      Log("errno " + std::to_string(value),
          at + "CURVE handshake failed: " + zmq_strerror(static_cast<int>(value)));
      return;
  }
}

void CurveGuard::Log(const std::string& kind, const std::string& line) {
  // Bounded whatever strangers send: past 64 kinds, new ones share one entry.
  const std::string& k = logged_.size() < 64 || logged_.count(kind) ? kind : "other";
  const int64_t now = NowMs();
  auto [it, first] = logged_.try_emplace(k);
  Logged& l = it->second;
  if (!first && now - l.at_ms < kLogEveryS * 1000) {
    ++l.held_back;
    return;
  }
  if (l.held_back > 0) {
    LOG(WARNING) << line << " (and " << l.held_back << " more like it in the last "
                 << (now - l.at_ms) / 1000 << " s)";
  } else {
    LOG(WARNING) << line;
  }
  l.at_ms = now;
  l.held_back = 0;
}

}  // namespace sparrow::transport
