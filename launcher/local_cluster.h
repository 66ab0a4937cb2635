// LocalCluster: a whole cluster on this machine — the scheduler in this process, servers
// and workers as child processes of the `sparrow` binary. Used by `sparrow bench kv` and
// the `sparrow train` launcher; tests use it to run real processes over loopback.
//
// Every child dies with this process (PR_SET_PDEATHSIG); Stop() or the destructor ends
// any still running. A child that dies while the cluster runs is reported to the
// scheduler the moment it ends (process/exit_watch.h), with how it ended, how long after
// its start, and the end of its log, and the run fails then instead of after a heartbeat
// timeout.
//
// Thread safety: one owner thread; RequestShutdown() from any thread (signal handling).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "process/child_process.h"
#include "process/exit_watch.h"

namespace sparrow::scheduler {
class Scheduler;
}

namespace sparrow::launcher {

struct LocalClusterOptions {
  std::string binary;  // path of `sparrow`
  int servers = 1;
  int workers = 1;           // worker processes to start
  int external_workers = 0;  // further workers the scheduler waits for, started elsewhere
                             // (tests run them in-process)
  int max_delay = -1;
  int heartbeat_ms = 500;
  int heartbeat_timeout_ms = 10000;
  bool local_ipc = true;                 // servers and workers talk over Unix sockets (NodeOptions)
  int poll_spin_us = 50;                 // NodeOptions::poll_spin_us of servers and workers
  std::vector<std::string> server_args;  // extra flags for every server
  std::vector<std::string> worker_args;  // extra flags for every worker
  std::string log_dir;  // children's stderr go to LOG_DIR/<role>-<i>.log, the i-th being
                        // rank i (it asks for it with --rank); "" inherits
  bool capture_worker_stdout = false;
  // With capture_worker_stdout: called with each line a worker prints, as it prints it,
  // on a reader thread (one per worker); the line is also kept in worker_stdout.
  std::function<void(int worker, const std::string& line)> on_worker_line;
  // Cluster keypair file (transport/curve.h) for the scheduler and every child; "" for none.
  std::string curve_keys;
};

struct LocalClusterResult {
  // The scheduler's verdict. When a child was killed by a signal it names that death
  // first, even if its peers' complaints about it reached the scheduler before it did.
  Status status;
  std::vector<int> server_exits, worker_exits;
  // Each child's peak resident memory (ru_maxrss), in spawn order.
  std::vector<uint64_t> server_peak_rss, worker_peak_rss;
  // When the first child killed by a signal was seen to end; unset if none was.
  std::optional<std::chrono::steady_clock::time_point> first_death;
  std::vector<std::string> worker_stdout;  // when captured
};

class LocalCluster {
 public:
  explicit LocalCluster(LocalClusterOptions options);
  ~LocalCluster();

  // Binds the scheduler and starts every process.
  Status Start();
  // Waits for the cluster to end and every child to exit.
  LocalClusterResult Wait();
  // Ends the cluster now (Ctrl-C).
  void RequestShutdown(const std::string& reason);

  const std::string& scheduler_endpoint() const { return endpoint_; }
  process::ChildProcess& worker(int i) { return workers_[i]; }
  process::ChildProcess& server(int i) { return servers_[i]; }

 private:
  LocalClusterOptions options_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::string endpoint_;
  std::thread scheduler_thread_;
  Status scheduler_status_;
  // Tells the scheduler how child `pid` ended (on the watch's thread).
  void OnChildExit(pid_t pid, int status);

  struct Started {
    std::string label;     // "worker process 1"
    std::string log_path;  // "" when stderr is inherited
    std::chrono::steady_clock::time_point at;
  };
  std::map<pid_t, Started> started_;  // written before the watch starts, then read-only
  std::mutex deaths_mu_;
  struct Death {
    pid_t pid;
    std::string what;  // "worker process 1 (pid P) killed by ..."
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Death> deaths_;  // children ended by a signal, in order
  std::vector<process::ChildProcess> servers_, workers_;
  process::ExitWatch exit_watch_;
  std::vector<std::thread> readers_;
  std::vector<std::string> worker_stdout_;
};

}  // namespace sparrow::launcher
