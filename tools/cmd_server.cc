// `sparrow server`: holds one key range of every table until the scheduler ends the cluster.
#include <glog/logging.h>

#include "cluster/signals.h"
#include "server/server.h"
#include "tools/cluster_flags.h"
#include "tools/cluster_roles.h"

DEFINE_int32(server_threads, 2,
             "threads (and parts of every table) a server uses for large requests; small "
             "requests run on the receiving thread");

DEFINE_string(restore_from, "",
              "server: a checkpoint directory (RUN/checkpoints/epoch-N) whose rows of this "
              "server's key range it restores before serving");

namespace sparrow::tools {

int RunServer(const std::vector<std::string>& /*args*/) {
  if (Status auth = CheckClusterAuth(FLAGS_bind, FLAGS_scheduler); !auth.ok()) {
    LOG(ERROR) << auth.message();
    return 2;
  }
  cluster::HandleTerminationSignals([](int sig) {
    LOG(WARNING) << "server got signal " << sig << "; leaving";
    _exit(1);
  });
  cluster::Node node(NodeOptionsFromFlags(wire::SERVER));
  server::Server srv(&node, FLAGS_server_threads);
  srv.Attach();
  if (!FLAGS_restore_from.empty()) srv.RestoreFrom(FLAGS_restore_from);
  Status st = node.Start([&srv](transport::Message&& m) { srv.Handle(std::move(m)); });
  if (!st.ok()) {
    LOG(ERROR) << "server could not join the cluster: " << st.message();
    return 1;
  }
  st = node.WaitForShutdown();
  node.Stop();
  if (st.code() == Code::kAborted) {
    // An orderly shutdown of a failed cluster: the scheduler reports the failure.
    LOG(WARNING) << "server stopping: " << st.message();
  } else if (!st.ok()) {
    LOG(ERROR) << "server stopping: " << st.message();
    return 1;
  }
  LOG(INFO) << "server " << node.rank() << " shut down";
  return 0;
}

}  // namespace sparrow::tools
