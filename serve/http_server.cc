#include "serve/http_server.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string_view>
#include <thread>

#include "serve/auth.h"
#include "serve/json_writer.h"

namespace sparrow::serve {
namespace {

using Clock = std::chrono::steady_clock;

// One connection's state, reused by every request on it (keep-alive), so the body buffer
// grows once per connection, not once per request.
struct Conn {
  std::string body;
  Endpoint endpoint = Endpoint::kOther;
  int status = 0;
  bool admitted = false;   // counted in pending
  bool too_large = false;  // body over the limit: drained and dropped, then 413
  Clock::time_point start;
};

// One thread's scoring state; the loop threads live as long as the server.
struct ThreadState {
  ScoreWorker worker;
  ModelSlot::Cache cache;
  std::string response;
  // When this loop's current pass over ready connections began (HttpServer::Run sets it
  // before each MHD_run). A request reached later than max_queue_ms into the pass has
  // waited at least that long behind the requests before it.
  Clock::time_point pass_start;
  // The shed answer, built once per loop: 503 + Retry-After, queued without copying.
  MHD_Response* shed = nullptr;
};
ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

// A body buffer grown past this by one large request is released when the request ends,
// so idle keep-alive connections hold at most this much body memory each.
constexpr size_t kKeptBodyBytes = 64 << 10;

constexpr char kShedBody[] = "{\"error\":\"overloaded: the scoring queue is full; retry later\"}";

MHD_Result Send(MHD_Connection* c, Conn* conn, ServeContext* ctx, int status, std::string_view body,
                const char* type = "application/json") {
  conn->status = status;
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                    MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (status == 503) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
                            std::to_string(ctx->config.retry_after_s()).c_str());
  }
  if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  // Draining: answer, then close, so clients reconnect to another instance.
  if (ctx->draining.load(std::memory_order_relaxed)) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  }
  MHD_Result ok = MHD_queue_response(c, static_cast<unsigned>(status), r);
  MHD_destroy_response(r);
  return ok;
}

MHD_Result SendError(MHD_Connection* c, Conn* conn, ServeContext* ctx, int status,
                     std::string_view message) {
  std::string& out = State().response;
  out.assign("{\"error\":");
  AppendJsonString(&out, message);
  out.push_back('}');
  return Send(c, conn, ctx, status, out);
}

bool Authorized(MHD_Connection* c, const std::string& token) {
  if (token.empty()) return true;
  const char* h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  return BearerMatches(h ? std::string_view(h) : std::string_view(), token);
}

struct Route {
  Endpoint endpoint;
  const char* method;
  bool admin;    // admin_token
  bool scoring;  // score_token
};

bool FindRoute(std::string_view url, Route* r) {
  static const struct {
    std::string_view url;
    Route route;
  } kRoutes[] = {
      {"/v1/score", {Endpoint::kScore, "POST", false, true}},
      {"/v1/model", {Endpoint::kModel, "GET", false, true}},
      {"/healthz", {Endpoint::kHealthz, "GET", false, false}},
      {"/readyz", {Endpoint::kReadyz, "GET", false, false}},
      {"/metrics", {Endpoint::kMetrics, "GET", false, false}},
      {"/v1/admin/reload", {Endpoint::kReload, "POST", true, false}},
  };
  for (const auto& k : kRoutes) {
    if (k.url == url) {
      *r = k.route;
      return true;
    }
  }
  return false;
}

std::string ModelJson(const ServingModel& m) {
  const scoring::Scorer& s = m.scorer();
  std::string out = "{\"model\":";
  AppendJsonString(&out, m.id());
  out += ",\"version\":\"" + m.version() + "\",\"generation\":" + std::to_string(m.generation());
  out += ",\"kind\":";
  AppendJsonString(&out, config::ModelConfig_Kind_Name(s.header().model().kind()));
  out += ",\"objective\":";
  AppendJsonString(&out, config::ModelConfig_Objective_Name(s.header().model().objective()));
  out += ",\"keys\":" + std::to_string(s.keys());
  out += ",\"format\":";
  AppendJsonString(&out, data::Format_Name(s.features().format()));
  out += ",\"path\":";
  AppendJsonString(&out, s.path());
  out += ",\"created_unix\":" + std::to_string(s.header().created_unix());
  out += ",\"columns\":[";
  for (size_t i = 0; i < m.columns().size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(&out, m.columns()[i]);
    const ColumnKind k = m.kind(static_cast<int>(i));
    out += k == ColumnKind::kNumber ? ",\"type\":\"number\"}"
           : k == ColumnKind::kText ? ",\"type\":\"text\"}"
                                    : ",\"type\":\"ignored\"}";
  }
  out += "]}";
  return out;
}

MHD_Result HandleScore(MHD_Connection* c, Conn* conn, ServeContext* ctx) {
  ThreadState& st = State();
  const ServingModel* model = ctx->slot.Current(&st.cache);
  if (model == nullptr) return SendError(c, conn, ctx, 503, "no model loaded");
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; the buffer is kept per
  // connection, so this grows it at most once.
  conn->body.reserve(conn->body.size() + simdjson::SIMDJSON_PADDING);
  uint64_t rows = 0, unknown = 0;
  const int status = st.worker.ScoreJson(
      *model, ctx->outputs,
      simdjson::padded_string_view(conn->body.data(), conn->body.size(), conn->body.capacity()),
      &st.response, &rows, &unknown);
  ctx->metrics.AddRows(rows);
  if (unknown > 0) ctx->metrics.AddUnknownColumns(unknown);
  return Send(c, conn, ctx, status, st.response);
}

MHD_Result Access(void* cls, MHD_Connection* c, const char* url, const char* method,
                  const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                  void** con_cls) {
  auto* ctx = static_cast<ServeContext*>(cls);
  auto* conn = static_cast<Conn*>(*con_cls);
  if (conn == nullptr) {
    // First call: headers are in. Decide everything that needs no body now.
    const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn = static_cast<Conn*>(info->socket_context);
    *con_cls = conn;
    conn->start = Clock::now();
    conn->status = 0;
    conn->admitted = false;
    conn->too_large = false;
    conn->body.clear();
    Route route;
    if (!FindRoute(url, &route)) {
      conn->endpoint = Endpoint::kOther;
      return SendError(c, conn, ctx, 404, std::string("no such endpoint: ") + url);
    }
    conn->endpoint = route.endpoint;
    if (std::strcmp(method, route.method) != 0) {
      return SendError(c, conn, ctx, 405, std::string(url) + " takes " + route.method);
    }
    if ((route.admin && !Authorized(c, ctx->config.admin_token())) ||
        (route.scoring && !Authorized(c, ctx->config.score_token()))) {
      return SendError(c, conn, ctx, 401, "missing or wrong bearer token");
    }
    if (route.endpoint == Endpoint::kScore) {
      const int64_t pending = ctx->metrics.pending().fetch_add(1, std::memory_order_relaxed) + 1;
      conn->admitted = true;
      if (pending > static_cast<int64_t>(ctx->config.max_pending())) {
        ctx->metrics.CountShed(ShedReason::kPending);
        return SendError(c, conn, ctx, 503, "overloaded: too many requests pending; retry later");
      }
      const char* len =
          MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (len != nullptr && std::strtoull(len, nullptr, 10) > ctx->config.max_body_bytes()) {
        return SendError(c, conn, ctx, 413,
                         "body over " + std::to_string(ctx->config.max_body_bytes()) + " bytes");
      }
    }
    switch (route.endpoint) {
      case Endpoint::kHealthz:
        return Send(c, conn, ctx, 200, "ok\n", "text/plain");
      case Endpoint::kReadyz: {
        const bool ready = ctx->slot.generation() != 0 && !ctx->draining.load();
        return Send(c, conn, ctx, ready ? 200 : 503, ready ? "ready\n" : "not ready\n",
                    "text/plain");
      }
      case Endpoint::kMetrics:
        return Send(c, conn, ctx, 200, ctx->metrics.Render(), "text/plain; version=0.0.4");
      case Endpoint::kModel: {
        auto m = ctx->slot.Get();
        if (!m) return SendError(c, conn, ctx, 503, "no model loaded");
        return Send(c, conn, ctx, 200, ModelJson(*m));
      }
      default:
        return MHD_YES;  // POST: read the body first
    }
  }
  if (*upload_data_size > 0) {
    if (conn->body.size() + *upload_data_size > ctx->config.max_body_bytes()) {
      conn->too_large = true;
    }
    if (!conn->too_large && conn->endpoint == Endpoint::kScore) {
      conn->body.append(upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (conn->status != 0) return MHD_YES;  // answered on the first call
  if (conn->too_large) {
    return SendError(c, conn, ctx, 413,
                     "body over " + std::to_string(ctx->config.max_body_bytes()) + " bytes");
  }
  if (conn->endpoint == Endpoint::kScore) {
    const uint32_t budget_ms = ctx->config.max_queue_ms();
    ThreadState& st = State();
    if (budget_ms > 0 && st.shed != nullptr &&
        Clock::now() - st.pass_start > std::chrono::milliseconds(budget_ms)) {
      // Shed after the body is read, not at the headers: an answer queued before the body
      // makes libmicrohttpd close the connection, and a reconnect costs more than the read.
      ctx->metrics.CountShed(ShedReason::kQueue);
      if (ctx->draining.load(std::memory_order_relaxed)) {
        return SendError(c, conn, ctx, 503, "overloaded: the scoring queue is full; retry later");
      }
      conn->status = 503;
      return MHD_queue_response(c, 503, st.shed);
    }
    return HandleScore(c, conn, ctx);
  }
  // The admin reload.
  Status st = ctx->reload("POST /v1/admin/reload");
  if (!st.ok())
    return SendError(c, conn, ctx, 422, "reload rejected, old model kept: " + st.message());
  auto m = ctx->slot.Get();
  return Send(c, conn, ctx, 200, ModelJson(*m));
}

void Completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  auto* ctx = static_cast<ServeContext*>(cls);
  auto* conn = static_cast<Conn*>(*con_cls);
  if (conn == nullptr) return;
  *con_cls = nullptr;
  if (conn->admitted) ctx->metrics.pending().fetch_sub(1, std::memory_order_relaxed);
  conn->admitted = false;
  if (conn->body.capacity() > kKeptBodyBytes) std::string().swap(conn->body);
  const int status = conn->status == 0 ? 500 : conn->status;  // 0: ended before an answer
  ctx->metrics.CountRequest(conn->endpoint, status);
  if (conn->endpoint == Endpoint::kScore) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - conn->start);
    ctx->metrics.ObserveLatency(Endpoint::kScore, static_cast<uint64_t>(us.count()));
  }
}

void ConnectionEvent(void*, MHD_Connection*, void** socket_context,
                     MHD_ConnectionNotificationCode code) {
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    auto* conn = new Conn();
    conn->body.reserve(4096);
    *socket_context = conn;
  } else {
    delete static_cast<Conn*>(*socket_context);
    *socket_context = nullptr;
  }
}

// The kernel's cap on any listen backlog; 0 when it cannot be read.
unsigned Somaxconn() {
  std::ifstream in("/proc/sys/net/core/somaxconn");
  unsigned v = 0;
  in >> v;
  return v;
}

unsigned Connections(MHD_Daemon* d) {
  const MHD_DaemonInfo* info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
  return info ? info->num_connections : 0;
}

// At most this many connections are accepted per pass (a few ms of work), so a connect
// storm cannot starve the connections already open for long. libmicrohttpd's own loop
// takes 10 per pass: under load a pass takes tens of ms, and 4,096 clients connecting at
// once then waited seconds in the accept queue.
constexpr int kAcceptBurst = 1024;
// The longest a loop sleeps without an event; a bound, not a tick (Wake() interrupts it).
constexpr int kMaxWaitMs = 1000;

}  // namespace

// One libmicrohttpd daemon (external epoll mode, no listening socket of its own) and the
// thread that drives it.
struct HttpServer::Loop {
  MHD_Daemon* daemon = nullptr;
  int epoll_fd = -1;  // libmicrohttpd's; readable when it has work
  int wake_fd = -1;   // eventfd: Wake() writes it so flags are seen at once
  unsigned max_connections = 0;
  std::atomic<bool> polls_listen{true};  // false once this loop no longer touches listen_fd_
  std::thread thread;
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& host_port,
                                                      ServeContext* ctx) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos)
    return InvalidArgument("--http must be HOST:PORT, not " + host_port);
  const std::string host = host_port.substr(0, colon);
  const int port = std::atoi(host_port.c_str() + colon + 1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port < 0 || port > 65535 ||
      inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgument("--http must be IPV4:PORT, not " + host_port);
  }
  const ServeConfig& cfg = ctx->config;
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->ctx_ = ctx;

  // The listening socket is ours: the loops share it (non-blocking, so a loop that loses
  // the race for a connection gets EAGAIN) and we choose the backlog.
  s->listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Unavailable(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  const unsigned backlog = cfg.listen_backlog();
  if (bind(s->listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(s->listen_fd_, static_cast<int>(backlog)) != 0) {
    return Unavailable("cannot listen on http " + host_port + ": " + std::strerror(errno) +
                       " (in use, or not a local address?)");
  }
  socklen_t len = sizeof(addr);
  getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  if (const unsigned cap = Somaxconn(); cap > 0 && cap < backlog) {
    // listen() silently takes min(backlog, somaxconn): a connect burst beyond it overflows
    // the accept queue and those clients wait for SYN retransmits (1 s, 3 s, ...).
    LOG(WARNING) << "serve: listen backlog " << backlog << " is capped by the kernel at "
                 << "net.core.somaxconn=" << cap << "; to queue more connections: "
                 << "sysctl -w net.core.somaxconn=" << backlog;
  }

  const unsigned threads = cfg.threads();
  for (unsigned i = 0; i < threads; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->max_connections = cfg.max_connections() / threads + (i < cfg.max_connections() % threads);
    if (loop->max_connections == 0) loop->max_connections = 1;
    loop->daemon = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_NO_LISTEN_SOCKET, 0, nullptr, nullptr, &Access, ctx,
        MHD_OPTION_CONNECTION_LIMIT, loop->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        static_cast<unsigned>(cfg.connection_timeout_s()), MHD_OPTION_NOTIFY_COMPLETED, &Completed,
        ctx, MHD_OPTION_NOTIFY_CONNECTION, &ConnectionEvent, nullptr, MHD_OPTION_END);
    if (loop->daemon == nullptr) return Internal("cannot start libmicrohttpd");
    const MHD_DaemonInfo* info = MHD_get_daemon_info(loop->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    loop->epoll_fd = info ? info->epoll_fd : -1;
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->epoll_fd < 0 || loop->wake_fd < 0) {
      if (loop->wake_fd >= 0) close(loop->wake_fd);
      MHD_stop_daemon(loop->daemon);
      return Internal("cannot set up the HTTP event loop");
    }
    s->loops_.push_back(std::move(loop));
  }
  for (auto& loop : s->loops_) {
    Loop* l = loop.get();
    HttpServer* self = s.get();
    l->thread = std::thread([self, l] { self->Run(l); });
  }
  return s;
}

void HttpServer::Run(Loop* loop) {
  MHD_Daemon* const d = loop->daemon;
  ThreadState& st = State();
  st.shed = MHD_create_response_from_buffer(sizeof(kShedBody) - 1, const_cast<char*>(kShedBody),
                                            MHD_RESPMEM_PERSISTENT);
  if (st.shed != nullptr) {
    MHD_add_response_header(st.shed, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(st.shed, MHD_HTTP_HEADER_RETRY_AFTER,
                            std::to_string(ctx_->config.retry_after_s()).c_str());
  }
  auto accept_paused_until = Clock::time_point();
  while (!stopping_.load(std::memory_order_acquire)) {
    const bool accepting = accepting_.load(std::memory_order_acquire);
    if (!accepting && loop->polls_listen.load(std::memory_order_relaxed)) {
      loop->polls_listen.store(false, std::memory_order_release);  // StopAccepting waits on it
    }
    // At the connection limit the listening socket is left alone: new connections wait in
    // the kernel's accept queue until one closes.
    const bool poll_listen =
        accepting && Connections(d) < loop->max_connections && Clock::now() >= accept_paused_until;
    int timeout = kMaxWaitMs;
    MHD_UNSIGNED_LONG_LONG mhd_ms = 0;
    if (MHD_get_timeout(d, &mhd_ms) == MHD_YES && mhd_ms < static_cast<unsigned>(kMaxWaitMs)) {
      timeout = static_cast<int>(mhd_ms);
    }
    if (accepting && !poll_listen && timeout > 10) timeout = 10;  // recheck the limit soon
    pollfd fds[3] = {
        {loop->wake_fd, POLLIN, 0}, {loop->epoll_fd, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (poll(fds, poll_listen ? 3 : 2, timeout) < 0 && errno != EINTR) {
      PLOG(ERROR) << "serve: poll";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      (void)!read(loop->wake_fd, &v, sizeof(v));
    }
    if (poll_listen && (fds[2].revents & POLLIN)) {
      for (int i = 0; i < kAcceptBurst && Connections(d) < loop->max_connections; ++i) {
        sockaddr_storage peer{};
        socklen_t plen = sizeof(peer);
        const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &plen,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            // Out of descriptors or memory: the socket stays readable, so polling it again
            // at once would spin. Serve what is open and retry shortly.
            LOG_EVERY_N(WARNING, 1000) << "serve: accept: " << std::strerror(errno)
                                       << " (raise the open-file limit or lower "
                                          "max_connections); retrying in 100 ms";
            accept_paused_until = Clock::now() + std::chrono::milliseconds(100);
          }
          break;  // EAGAIN: another loop took it, or the queue is empty
        }
        // On failure libmicrohttpd has closed the socket.
        (void)MHD_add_connection(d, fd, reinterpret_cast<const sockaddr*>(&peer), plen);
      }
    }
    st.pass_start = Clock::now();
    MHD_run(d);
  }
  if (st.shed != nullptr) MHD_destroy_response(st.shed);  // queued copies hold references
  st.shed = nullptr;
}

void HttpServer::Wake() {
  const uint64_t one = 1;
  for (auto& loop : loops_) (void)!write(loop->wake_fd, &one, sizeof(one));
}

void HttpServer::StopAccepting() {
  if (listen_fd_ < 0) return;
  accepting_.store(false, std::memory_order_release);
  Wake();
  for (auto& loop : loops_) {
    while (loop->polls_listen.load(std::memory_order_acquire)) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  close(listen_fd_);
  listen_fd_ = -1;
}

void HttpServer::Stop() {
  if (loops_.empty() && listen_fd_ < 0) return;
  stopping_.store(true, std::memory_order_release);
  Wake();
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
  // The threads are gone, so the daemons may be stopped from here; this closes every
  // connection (Completed runs for requests cut short).
  for (auto& loop : loops_) {
    MHD_stop_daemon(loop->daemon);
    close(loop->wake_fd);
  }
  loops_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

HttpServer::~HttpServer() {
  Stop();
}

}  // namespace sparrow::serve
