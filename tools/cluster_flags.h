// Flags shared by the cluster roles (scheduler, server, worker) and the commands that
// start a local cluster (bench kv, train).
#pragma once

#include <gflags/gflags.h>

#include "cluster/node.h"

DECLARE_string(scheduler);
DECLARE_string(bind);
DECLARE_int32(rank);
DECLARE_bool(local_ipc);
DECLARE_int32(poll_spin_us);
DECLARE_int32(servers);
DECLARE_int32(workers);
DECLARE_int32(max_delay);
DECLARE_int32(heartbeat_ms);
DECLARE_int32(heartbeat_timeout_ms);
DECLARE_int32(request_timeout_ms);
DECLARE_string(curve_keys);
DECLARE_bool(insecure_cluster);

namespace sparrow::tools {

// NodeOptions for `role` from the flags above.
cluster::NodeOptions NodeOptionsFromFlags(wire::Role role);

// Whether a role may run with the authentication the flags ask for: a cluster that spans
// hosts (`bind` or `scheduler` not a loopback address) must be started with --curve_keys
// unless --insecure_cluster says otherwise. The error says what to do.
Status CheckClusterAuth(const std::string& bind, const std::string& scheduler);

// True for "127.x.x.x:P", "localhost:P", "[::1]:P" (with or without "tcp://").
bool IsLoopbackAddress(const std::string& address);

// The flag names above, for Command::flags.
#define SPARROW_NODE_FLAGS                                                                  \
  "scheduler", "bind", "local_ipc", "poll_spin_us", "heartbeat_ms", "heartbeat_timeout_ms", \
      "curve_keys", "insecure_cluster", "rank"

}  // namespace sparrow::tools
