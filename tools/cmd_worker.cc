// `sparrow worker`: joins a cluster and runs a task against its servers.
#include <glog/logging.h>
#include <google/protobuf/text_format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/kv_bench.h"
#include "cluster/signals.h"
#include "experiment/experiment.h"
#include "tools/cluster_flags.h"
#include "tools/cluster_roles.h"
#include "tools/kv_bench_flags.h"
#include "worker/trainer.h"

DEFINE_string(task, "kv_bench",
              "what the worker does: train (a run directory's experiment) or kv_bench (the "
              "`bench kv` workload)");
DEFINE_string(run_dir, "", "train: the run directory `sparrow train` prepared");
DEFINE_string(resume_from, "",
              "train: a checkpoint directory (RUN/checkpoints/epoch-N) to continue after; the "
              "servers restore it (`sparrow server --restore_from`)");

namespace sparrow::tools {
namespace {

Status RunTask(cluster::Node* node, worker::KVClient* kv) {
  if (FLAGS_task == "kv_bench") {
    SPARROW_ASSIGN_OR_RETURN(bench::KvBenchOptions o, KvBenchOptionsFromFlags());
    SPARROW_ASSIGN_OR_RETURN(bench::KvBenchResult r, bench::RunKvBenchWorker(node, kv, o));
    std::printf("%s\n", r.ToLine(node->rank()).c_str());
    std::fflush(stdout);
    return Status::Ok();
  }
  if (FLAGS_task == "train") {
    experiment::RunDir dir{FLAGS_run_dir};
    config::ExperimentConfig cfg;
    data::FeatureSpec features;
    SPARROW_RETURN_IF_ERROR(experiment::LoadRunDir(dir, &cfg, &features));
    worker::Trainer trainer(node, kv, cfg, features, dir.root);
    if (!FLAGS_resume_from.empty()) trainer.ResumeFrom(FLAGS_resume_from);
    return trainer.Run();
  }
  return InvalidArgument("unknown --task '" + FLAGS_task + "' (known: train, kv_bench)");
}

}  // namespace

int RunWorker(const std::vector<std::string>& /*args*/) {
  if (Status auth = CheckClusterAuth(FLAGS_bind, FLAGS_scheduler); !auth.ok()) {
    LOG(ERROR) << auth.message();
    return 2;
  }
  // Signals are blocked before any thread exists (ZeroMQ starts one with the node), so
  // they arrive here; the node and client are published once they exist.
  static std::atomic<cluster::Node*> live_node{nullptr};
  static std::atomic<worker::KVClient*> live_kv{nullptr};
  cluster::HandleTerminationSignals([](int sig) {
    const std::string why = "worker got signal " + std::to_string(sig);
    LOG(WARNING) << why << "; leaving";
    // Tell the servers not to wait on this worker's clock and the scheduler why it left,
    // so the rest of the cluster goes on now instead of after a heartbeat timeout.
    if (worker::KVClient* kv = live_kv.load()) kv->FinishClock();
    if (cluster::Node* node = live_node.load()) node->Finish(true, why);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let those leave
    _exit(1);
  });
  cluster::Node node(NodeOptionsFromFlags(wire::WORKER));
  worker::KVClientOptions ko;
  ko.request_timeout_ms = FLAGS_request_timeout_ms;
  // A failed cluster is restarted or given up: nothing this worker computes from here on
  // is kept, and it may be deep in reading its data. Leave now.
  node.SetFailedHandler([](const std::string& why) {
    LOG(WARNING) << "worker leaving: cluster failed: " << why;
    _exit(1);
  });
  worker::KVClient kv(&node, ko);
  kv.Attach();
  // Published before Start(): a signal while joining must still reach the scheduler
  // (once the node table arrived, Finish() names this node).
  live_kv.store(&kv);
  live_node.store(&node);
  Status st = node.Start([&kv](transport::Message&& m) { kv.Handle(std::move(m)); });
  if (!st.ok()) {
    LOG(ERROR) << "worker could not join the cluster: " << st.message();
    return 1;
  }
  Status task = RunTask(&node, &kv);
  if (!task.ok()) LOG(ERROR) << "worker " << node.rank() << ": " << task.message();
  kv.FinishClock();
  node.Finish(!task.ok(), task.message());
  Status down = node.WaitForShutdown();
  node.Stop();
  return task.ok() ? 0 : 1;
}

}  // namespace sparrow::tools
