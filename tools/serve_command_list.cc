#include "tools/command_lists.h"
#include "tools/serve_commands.h"

namespace sparrow::tools {

std::vector<Command> ServeCommands() {
  return {
      {"serve",
       "--model=M [--config=serve.conf] [--http=HOST:PORT] [--binary=tcp://HOST:PORT] "
       "[--threads=N]",
       "the online scoring daemon: JSON/HTTP and Protobuf/ZeroMQ, reason codes, hot reload",
       {"model", "config", "http", "binary", "threads", "max_body_bytes", "max_records",
        "max_pending", "max_queue_ms", "max_connections"},
       &RunServe},
      {"bench serve",
       "--model=M [--connections=C1,C2,...] [--seconds=T] [--max_queue_ms=MS] "
       "[--nohonor_retry_after] [--target=127.0.0.1:PORT]",
       "start the daemon and load it: a connection sweep (req/s, p50/p99/p999, 503s), "
       "binary rows/s",
       {"model", "connections", "seconds", "record", "max_queue_ms", "honor_retry_after", "target"},
       &RunBenchServe},
  };
}

}  // namespace sparrow::tools
