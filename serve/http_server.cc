#include "serve/http_server.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string_view>

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

// One thread's scoring state; MHD threads live as long as the daemon.
struct ThreadState {
  ScoreWorker worker;
  ModelSlot::Cache cache;
  std::string response;
};
ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

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
  if (conn->endpoint == Endpoint::kScore) return HandleScore(c, conn, ctx);
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

}  // namespace

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
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_TURBO;
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr, &Access, ctx, MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<const sockaddr*>(&addr), MHD_OPTION_THREAD_POOL_SIZE,
      static_cast<unsigned>(cfg.threads() > 1 ? cfg.threads() : 0), MHD_OPTION_CONNECTION_LIMIT,
      static_cast<unsigned>(cfg.max_connections()), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(cfg.connection_timeout_s()), MHD_OPTION_NOTIFY_COMPLETED, &Completed,
      ctx, MHD_OPTION_NOTIFY_CONNECTION, &ConnectionEvent, nullptr, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      1024u, MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    return Unavailable("cannot listen on http " + host_port + " (in use, or not a local address?)");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(s->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  s->port_ = info ? info->port : static_cast<uint16_t>(port);
  return s;
}

void HttpServer::StopAccepting() {
  if (daemon_ == nullptr) return;
  const MHD_socket fd = MHD_quiesce_daemon(daemon_);
  if (fd != MHD_INVALID_SOCKET) close(fd);
}

void HttpServer::Stop() {
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
}

HttpServer::~HttpServer() {
  Stop();
}

}  // namespace sparrow::serve
