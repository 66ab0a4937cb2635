// Flags shared by the cluster roles (scheduler, server, worker) and the commands that
// start a local cluster (bench kv, train).
#pragma once

#include <gflags/gflags.h>

#include "cluster/node.h"

DECLARE_string(scheduler);
DECLARE_string(bind);
DECLARE_bool(local_ipc);
DECLARE_int32(poll_spin_us);
DECLARE_int32(servers);
DECLARE_int32(workers);
DECLARE_int32(max_delay);
DECLARE_int32(heartbeat_ms);
DECLARE_int32(heartbeat_timeout_ms);
DECLARE_int32(request_timeout_ms);

namespace sparrow::tools {

// NodeOptions for `role` from the flags above.
cluster::NodeOptions NodeOptionsFromFlags(wire::Role role);

// The flag names above, for Command::flags.
#define SPARROW_NODE_FLAGS \
  "scheduler", "bind", "local_ipc", "poll_spin_us", "heartbeat_ms", "heartbeat_timeout_ms"

}  // namespace sparrow::tools
