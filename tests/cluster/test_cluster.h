// Helpers for multi-process tests: a LocalCluster of real `sparrow` server (and worker)
// processes on 127.0.0.1, with the scheduler in the test process, plus workers that run
// inside the test on their own threads (real nodes, real sockets) so a test can drive
// them step by step.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cluster/node.h"
#include "launcher/local_cluster.h"
#include "worker/kv_client.h"

namespace sparrow::testing {

inline launcher::LocalClusterOptions ClusterOptions(int servers, int external_workers,
                                                    int max_delay = -1) {
  launcher::LocalClusterOptions o;
  o.binary = SPARROW_BINARY;
  o.servers = servers;
  o.workers = 0;
  o.external_workers = external_workers;
  o.max_delay = max_delay;
  o.heartbeat_ms = 100;
  o.heartbeat_timeout_ms = 3000;
  return o;
}

// A worker node living in the test process.
struct TestWorker {
  explicit TestWorker(const std::string& scheduler, int request_timeout_ms = 20000,
                      bool local_ipc = true, int retries = 2)
      : node(Options(scheduler, local_ipc)), kv(&node, ClientOptions(request_timeout_ms, retries)) {
    kv.Attach();
  }
  static worker::KVClientOptions ClientOptions(int request_timeout_ms, int retries) {
    worker::KVClientOptions o;
    o.request_timeout_ms = request_timeout_ms;
    o.retries = retries;
    return o;
  }
  static cluster::NodeOptions Options(const std::string& scheduler, bool local_ipc = true) {
    cluster::NodeOptions o;
    o.role = wire::WORKER;
    o.scheduler = scheduler;
    o.local_ipc = local_ipc;
    o.heartbeat_ms = 100;
    o.scheduler_timeout_ms = 5000;
    return o;
  }
  Status Start() {
    return node.Start([this](transport::Message&& m) { kv.Handle(std::move(m)); });
  }
  // Reports done and waits for the cluster to end.
  Status Finish() {
    kv.FinishClock();
    node.Finish(false, "");
    Status st = node.WaitForShutdown();
    node.Stop();
    return st;
  }
  cluster::Node node;
  worker::KVClient kv;
};

inline wire::TableSpec SgdTable(uint32_t id, uint32_t width) {
  wire::TableSpec s;
  s.set_id(id);
  s.set_width(width);
  s.set_optimizer(wire::SGD);
  s.set_learning_rate(1.0f);
  return s;
}

}  // namespace sparrow::testing
