#include "tools/cluster_flags.h"

DEFINE_string(scheduler, "127.0.0.1:9090", "HOST:PORT of the scheduler");
DEFINE_string(bind, "127.0.0.1:0",
              "HOST:PORT this node listens on (port 0: any free port); use the host's "
              "address, not 127.0.0.1, when the cluster spans machines");
DEFINE_bool(local_ipc, true,
            "also listen on a Unix socket, and reach peers on this host (same kernel and "
            "network namespace) through theirs, bypassing ZeroMQ and loopback TCP");
DEFINE_int32(poll_spin_us, 50,
             "microseconds a node keeps polling after a burst of messages before it sleeps "
             "(saves a wake-up per message when the next one is close; 0: off)");
DEFINE_int32(rank, -1,
             "server, worker: the rank to ask for among nodes of the role (an orchestrator's "
             "task index); -1: ranks follow the order of registration");
DEFINE_int32(servers, 1, "number of servers in the cluster");
DEFINE_int32(workers, 1, "number of workers in the cluster");
DEFINE_int32(max_delay, -1,
             "consistency: 0 = BSP, k > 0 = bounded delay of k minibatches, -1 = asynchronous");
DEFINE_int32(heartbeat_ms, 1000, "interval between a node's heartbeats to the scheduler");
DEFINE_int32(heartbeat_timeout_ms, 10000,
             "a node silent this long is declared dead (and a node whose scheduler is silent "
             "this long leaves)");
DEFINE_int32(request_timeout_ms, 60000,
             "a worker's pull or push fails if its server does not answer within this time");

DEFINE_string(curve_keys, "",
              "cluster keypair file (sparrow keygen --out=FILE), the same on every node: "
              "ZeroMQ traffic is then CURVE-authenticated and encrypted, and peers without "
              "the keypair are refused. Required when the cluster spans hosts");
DEFINE_bool(insecure_cluster, false,
            "let a cluster that spans hosts run without --curve_keys: any process that can "
            "reach a node's port can then join it and push to its model");

namespace sparrow::tools {

bool IsLoopbackAddress(const std::string& address) {
  std::string host = address;
  if (const size_t scheme = host.find("://"); scheme != std::string::npos) {
    host = host.substr(scheme + 3);
  }
  if (const size_t colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]" || host == "::1";
}

Status CheckClusterAuth(const std::string& bind, const std::string& scheduler) {
  if (!FLAGS_curve_keys.empty() || FLAGS_insecure_cluster) return Status::Ok();
  for (const std::string* a : {&bind, &scheduler}) {
    if (!IsLoopbackAddress(*a)) {
      return FailedPrecondition(
          *a +
          " is not a loopback address, so other hosts can reach this cluster: start "
          "every node with --curve_keys=FILE (made once by `sparrow keygen "
          "--out=FILE`, copied to each host with mode 0600), or pass "
          "--insecure_cluster on a network only the cluster uses");
    }
  }
  return Status::Ok();
}

cluster::NodeOptions NodeOptionsFromFlags(wire::Role role) {
  cluster::NodeOptions o;
  o.role = role;
  o.scheduler = FLAGS_scheduler;
  o.bind = FLAGS_bind;
  o.local_ipc = FLAGS_local_ipc;
  o.poll_spin_us = FLAGS_poll_spin_us;
  o.heartbeat_ms = FLAGS_heartbeat_ms;
  o.scheduler_timeout_ms = FLAGS_heartbeat_timeout_ms;
  o.curve_keys = FLAGS_curve_keys;
  o.rank_hint = FLAGS_rank;
  return o;
}

}  // namespace sparrow::tools
