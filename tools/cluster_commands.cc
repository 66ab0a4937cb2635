#include "tools/cluster_flags.h"
#include "tools/cluster_roles.h"
#include "tools/command_lists.h"

namespace sparrow::tools {

std::vector<Command> ClusterCommands() {
  return {
      {"scheduler",
       "--servers=S --workers=W [--scheduler=HOST:PORT]",
       "coordinate a cluster: registration, key ranges, barriers, heartbeats, shutdown",
       {"scheduler", "bind", "servers", "workers", "max_delay", "heartbeat_timeout_ms",
        "endpoint_file", "curve_keys", "insecure_cluster"},
       &RunScheduler},
      {"server",
       "--scheduler=HOST:PORT [--bind=HOST:PORT]",
       "hold a key range of every table (weights and optimizer state) and serve push/pull",
       {SPARROW_NODE_FLAGS, "server_threads", "restore_from"},
       &RunServer},
      {"worker",
       "--scheduler=HOST:PORT --task=kv_bench [task flags]",
       "join a cluster and run a task against the servers",
       {SPARROW_NODE_FLAGS, "task", "run_dir", "resume_from", "request_timeout_ms", "keys",
        "value_width", "optimizer", "seconds"},
       &RunWorker},
      {"bench kv",
       "[--servers=S --workers=W --keys=N --value_width=K --optimizer=O --seconds=T]",
       "start a local cluster and measure push/pull throughput and small-pull latency",
       {"servers", "workers", "keys", "value_width", "optimizer", "seconds", "max_delay",
        "local_ipc", "poll_spin_us", "curve_keys"},
       &RunBenchKv},
      {"keygen",
       "--out=FILE",
       "write a new cluster keypair (ZeroMQ CURVE) to FILE, mode 0600, for --curve_keys",
       {"out"},
       &RunKeygen},
  };
}

}  // namespace sparrow::tools
