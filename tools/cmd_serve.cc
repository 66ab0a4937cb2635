// `sparrow serve`: the online scoring daemon (serve/daemon.h).
#include <gflags/gflags.h>

#include <cstdio>

#include "serve/daemon.h"
#include "serve/serve_config.h"
#include "tools/serve_commands.h"

DEFINE_string(config, "", "serve config file (proto/serve.proto ServeConfig, text format)");
DEFINE_string(http, "",
              "HTTP listen address HOST:PORT (default from config: 127.0.0.1:7700; "
              "port 0 picks a free one); 'off' disables");
DEFINE_string(binary, "",
              "binary (ZeroMQ) endpoint, e.g. tcp://127.0.0.1:7701 (port * picks a "
              "free one); 'off' disables");
DECLARE_string(model);   // tools/cmd_predict.cc
DECLARE_int32(threads);  // tools/data_flags.cc: here, HTTP worker threads (default config: 1)
DEFINE_uint64(max_body_bytes, 0, "largest request body (default from config: 1 MiB)");
DEFINE_uint32(max_records, 0, "most records per request (default from config: 1000)");
DEFINE_uint32(max_pending, 0, "requests admitted before 503 (default from config: 1024)");
DEFINE_int32(max_queue_ms, -1,
             "shed a scoring request (503) reached this long into a pass; 0 never (default "
             "from config: 50)");
DEFINE_uint32(max_connections, 0, "open HTTP connections at most (default from config: 8192)");

namespace sparrow::tools {

int RunServe(const std::vector<std::string>&) {
  if (FLAGS_model.empty()) {
    std::fprintf(stderr, "sparrow serve: --model is required\n");
    return 2;
  }
  auto config = serve::LoadServeConfig(FLAGS_config);
  if (!config.ok()) {
    std::fprintf(stderr, "sparrow serve: %s\n", config.status().message().c_str());
    return 2;
  }
  serve::ServeConfig& c = *config;
  if (!FLAGS_http.empty()) c.set_http(FLAGS_http == "off" ? "" : FLAGS_http);
  if (!FLAGS_binary.empty()) c.set_binary(FLAGS_binary == "off" ? "" : FLAGS_binary);
  if (FLAGS_threads > 0) c.set_threads(static_cast<uint32_t>(FLAGS_threads));
  if (FLAGS_max_body_bytes > 0) c.set_max_body_bytes(FLAGS_max_body_bytes);
  if (FLAGS_max_records > 0) c.set_max_records(FLAGS_max_records);
  if (FLAGS_max_pending > 0) c.set_max_pending(FLAGS_max_pending);
  if (FLAGS_max_queue_ms >= 0) c.set_max_queue_ms(static_cast<uint32_t>(FLAGS_max_queue_ms));
  if (FLAGS_max_connections > 0) c.set_max_connections(FLAGS_max_connections);
  auto daemon = serve::Daemon::Start(FLAGS_model, std::move(c));
  if (!daemon.ok()) {
    std::fprintf(stderr, "sparrow serve: %s\n", daemon.status().message().c_str());
    return 1;
  }
  // One line on stdout with the real addresses: what scripts and tests wait for.
  std::printf("sparrow serve: listening %s\n", (*daemon)->Listening().c_str());
  std::fflush(stdout);
  return (*daemon)->Run();
}

}  // namespace sparrow::tools
