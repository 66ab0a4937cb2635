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
        "max_pending"},
       &RunServe},
      {"bench serve",
       "--model=M [--connections=C] [--seconds=T]",
       "start the daemon and load it: HTTP req/s and p50/p99/p999, binary rows/s",
       {"model", "connections", "seconds", "record"},
       &RunBenchServe},
  };
}

}  // namespace sparrow::tools
