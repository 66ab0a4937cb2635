#include "cluster/local_cluster.h"

#include <glog/logging.h>
#include <signal.h>

#include "scheduler/scheduler.h"

namespace sparrow::cluster {

LocalCluster::LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {}

LocalCluster::~LocalCluster() {
  if (scheduler_thread_.joinable()) {
    RequestShutdown("launcher exiting");
    scheduler_thread_.join();
  }
  for (auto& t : readers_) {
    if (t.joinable()) t.join();
  }
}

Status LocalCluster::Start() {
  scheduler::SchedulerOptions so;
  so.bind = "127.0.0.1:0";
  so.num_servers = options_.servers;
  so.num_workers = options_.workers + options_.external_workers;
  so.max_delay = options_.max_delay;
  so.heartbeat_timeout_ms = options_.heartbeat_timeout_ms;
  so.register_timeout_ms = 60000;
  scheduler_ = std::make_unique<scheduler::Scheduler>(so);
  SPARROW_ASSIGN_OR_RETURN(endpoint_, scheduler_->Bind());
  scheduler_thread_ = std::thread([this] { scheduler_status_ = scheduler_->Run(); });

  auto common = [&](const std::string& role) {
    return std::vector<std::string>{
        options_.binary,
        role,
        "--scheduler=" + endpoint_,
        "--heartbeat_ms=" + std::to_string(options_.heartbeat_ms),
        "--heartbeat_timeout_ms=" + std::to_string(options_.heartbeat_timeout_ms),
        std::string("--local_ipc=") + (options_.local_ipc ? "true" : "false"),
        "--poll_spin_us=" + std::to_string(options_.poll_spin_us)};
  };
  for (int i = 0; i < options_.servers; ++i) {
    auto argv = common("server");
    argv.insert(argv.end(), options_.server_args.begin(), options_.server_args.end());
    SpawnOptions so2;
    if (!options_.log_dir.empty())
      so2.stderr_path = options_.log_dir + "/server-" + std::to_string(i) + ".log";
    SPARROW_ASSIGN_OR_RETURN(ChildProcess c, ChildProcess::Spawn(argv, so2));
    servers_.push_back(std::move(c));
  }
  worker_stdout_.resize(options_.workers);
  for (int i = 0; i < options_.workers; ++i) {
    auto argv = common("worker");
    argv.insert(argv.end(), options_.worker_args.begin(), options_.worker_args.end());
    SpawnOptions so2;
    so2.capture_stdout = options_.capture_worker_stdout;
    if (!options_.log_dir.empty())
      so2.stderr_path = options_.log_dir + "/worker-" + std::to_string(i) + ".log";
    SPARROW_ASSIGN_OR_RETURN(ChildProcess c, ChildProcess::Spawn(argv, so2));
    workers_.push_back(std::move(c));
  }
  if (options_.capture_worker_stdout) {
    // Drain each pipe as it fills, so a chatty worker never blocks on a full pipe.
    for (int i = 0; i < options_.workers; ++i) {
      readers_.emplace_back([this, i] {
        workers_[i].ReadStdoutLines([&](const std::string& line) {
          worker_stdout_[i] += line + "\n";
          if (options_.on_worker_line) options_.on_worker_line(i, line);
        });
      });
    }
  }
  return Status::Ok();
}

void LocalCluster::RequestShutdown(const std::string& reason) {
  if (scheduler_) scheduler_->RequestShutdown(reason);
}

LocalClusterResult LocalCluster::Wait() {
  LocalClusterResult r;
  if (scheduler_thread_.joinable()) scheduler_thread_.join();
  r.status = scheduler_status_;
  // After SHUTDOWN a node needs a moment to leave; past that, it is stuck: end it.
  auto reap = [](std::vector<ChildProcess>& v, std::vector<int>* exits) {
    for (auto& c : v) {
      auto e = c.Wait(10000);
      if (!e) {
        LOG(WARNING) << "process " << c.pid() << " did not exit after shutdown; killing it";
        c.Signal(SIGKILL);
        e = c.Wait(-1);
      }
      exits->push_back(e.value_or(-9));
    }
  };
  reap(workers_, &r.worker_exits);
  reap(servers_, &r.server_exits);
  for (auto& t : readers_) {
    if (t.joinable()) t.join();
  }
  r.worker_stdout = worker_stdout_;
  return r;
}

}  // namespace sparrow::cluster
