// `sparrow scheduler`: the coordinator of a cluster, as its own process.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>

#include "cluster/signals.h"
#include "scheduler/scheduler.h"
#include "tools/cluster_flags.h"
#include "tools/cluster_roles.h"

DEFINE_string(endpoint_file, "",
              "scheduler: once bound, write the endpoint nodes join (tcp://HOST:PORT) to this "
              "file (written whole, then renamed into place), e.g. with --scheduler=HOST:0 to "
              "let the kernel pick the port");

namespace sparrow::tools {

int RunScheduler(const std::vector<std::string>& /*args*/) {
  scheduler::SchedulerOptions o;
  o.bind = FLAGS_bind == "127.0.0.1:0" ? FLAGS_scheduler : FLAGS_bind;
  o.num_servers = FLAGS_servers;
  o.num_workers = FLAGS_workers;
  o.max_delay = FLAGS_max_delay;
  o.heartbeat_timeout_ms = FLAGS_heartbeat_timeout_ms;
  o.curve_keys = FLAGS_curve_keys;
  if (o.num_servers < 1 || o.num_workers < 1) {
    LOG(ERROR) << "--servers and --workers must be at least 1";
    return 2;
  }
  if (Status auth = CheckClusterAuth(o.bind, FLAGS_scheduler); !auth.ok()) {
    LOG(ERROR) << auth.message();
    return 2;
  }
  scheduler::Scheduler s(o);
  cluster::HandleTerminationSignals([&s](int sig) {
    s.RequestShutdown(std::string("scheduler got signal ") + std::to_string(sig));
  });
  auto ep = s.Bind();
  if (!ep.ok()) {
    LOG(ERROR) << ep.status().message();
    return 1;
  }
  if (!FLAGS_endpoint_file.empty()) {
    const std::string tmp = FLAGS_endpoint_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    const bool written = f != nullptr && std::fprintf(f, "%s\n", ep->c_str()) > 0;
    if (f != nullptr) std::fclose(f);
    if (!written || std::rename(tmp.c_str(), FLAGS_endpoint_file.c_str()) != 0) {
      LOG(ERROR) << "cannot write " << FLAGS_endpoint_file;
      return 1;
    }
  }
  LOG(INFO) << "scheduler listening on " << *ep << ", waiting for " << o.num_servers
            << " server(s) and " << o.num_workers << " worker(s)";
  Status st = s.Run();
  if (!st.ok()) {
    LOG(ERROR) << "cluster failed: " << st.message();
    return 1;
  }
  LOG(INFO) << "cluster finished";
  return 0;
}

}  // namespace sparrow::tools
