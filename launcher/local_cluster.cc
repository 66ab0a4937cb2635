#include "launcher/local_cluster.h"

#include <glog/logging.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "scheduler/scheduler.h"

namespace sparrow::launcher {

namespace {

// The line of a log that says most about how its process ended: where the failure
// signal handler's stack trace says it was (its "PC:" line, or when that is unknown the
// first frame in Sparrow's code), else the last line.
std::string LastWords(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - 16384);
  in.seekg(from);
  std::string tail(static_cast<size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  std::istringstream lines(tail);
  std::string line, last, where;
  bool in_trace = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.rfind("*** Aborted at", 0) == 0) {
      in_trace = true;
      where.clear();
    } else if (in_trace && where.empty() && line.rfind("PC: @", 0) == 0 &&
               line.find("(unknown)") == std::string::npos) {
      where = line;
    } else if (in_trace && where.empty() && line.find(" sparrow::") != std::string::npos) {
      where = "in " + line.substr(line.find("sparrow::"));
    }
  }
  return where.empty() ? last : where;
}

}  // namespace

LocalCluster::LocalCluster(LocalClusterOptions options) : options_(std::move(options)) {}

void LocalCluster::OnChildExit(pid_t pid, int status) {
  const Started& s = started_.at(pid);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.at).count();
  char after[32];
  std::snprintf(after, sizeof(after), " after %.1f s", secs);
  std::string how = (status >= 0 ? "exited with status " + std::to_string(status)
                                 : process::DescribeExit(status)) +
                    after;
  if (!s.log_path.empty()) {
    const std::string words = LastWords(s.log_path);
    how += "; its log " + s.log_path + (words.empty() ? " is empty" : " ends: " + words);
  }
  if (status < 0) {
    std::lock_guard<std::mutex> lock(deaths_mu_);
    deaths_.push_back({pid, s.label + " (pid " + std::to_string(pid) + ") " + how,
                       std::chrono::steady_clock::now()});
  }
  scheduler_->ProcessExited(pid, s.label, how, /*signaled=*/status < 0);
}

LocalCluster::~LocalCluster() {
  exit_watch_.Stop();
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
  so.curve_keys = options_.curve_keys;
  scheduler_ = std::make_unique<scheduler::Scheduler>(so);
  SPARROW_ASSIGN_OR_RETURN(endpoint_, scheduler_->Bind());
  scheduler_thread_ = std::thread([this] { scheduler_status_ = scheduler_->Run(); });

  auto common = [&](const std::string& role) {
    std::vector<std::string> argv{
        options_.binary,
        role,
        "--scheduler=" + endpoint_,
        "--heartbeat_ms=" + std::to_string(options_.heartbeat_ms),
        "--heartbeat_timeout_ms=" + std::to_string(options_.heartbeat_timeout_ms),
        std::string("--local_ipc=") + (options_.local_ipc ? "true" : "false"),
        "--poll_spin_us=" + std::to_string(options_.poll_spin_us)};
    if (!options_.curve_keys.empty()) argv.push_back("--curve_keys=" + options_.curve_keys);
    return argv;
  };
  // The i-th process of a role asks for rank i, so <role>-<i>.log is rank i's.
  auto spawn = [&](const std::string& role, int i, const std::vector<std::string>& extra,
                   bool capture_stdout) -> Result<process::ChildProcess> {
    auto argv = common(role);
    argv.push_back("--rank=" + std::to_string(i));
    argv.insert(argv.end(), extra.begin(), extra.end());
    process::SpawnOptions so;
    so.capture_stdout = capture_stdout;
    if (!options_.log_dir.empty()) {
      so.stderr_path = options_.log_dir + "/" + role + "-" + std::to_string(i) + ".log";
    }
    SPARROW_ASSIGN_OR_RETURN(process::ChildProcess c, process::ChildProcess::Spawn(argv, so));
    started_[c.pid()] = {role + " process " + std::to_string(i), so.stderr_path,
                         std::chrono::steady_clock::now()};
    return c;
  };
  for (int i = 0; i < options_.servers; ++i) {
    SPARROW_ASSIGN_OR_RETURN(process::ChildProcess c,
                             spawn("server", i, options_.server_args, false));
    servers_.push_back(std::move(c));
  }
  worker_stdout_.resize(options_.workers);
  for (int i = 0; i < options_.workers; ++i) {
    SPARROW_ASSIGN_OR_RETURN(process::ChildProcess c, spawn("worker", i, options_.worker_args,
                                                            options_.capture_worker_stdout));
    workers_.push_back(std::move(c));
  }
  std::vector<pid_t> pids;
  for (const auto& [pid, s] : started_) pids.push_back(pid);
  Status watching =
      exit_watch_.Start(pids, [this](pid_t pid, int status) { OnChildExit(pid, status); });
  if (!watching.ok()) {
    LOG(WARNING) << "deaths of children are found by heartbeats only: " << watching.message();
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
  exit_watch_.Stop();  // before the children are reaped below
  r.status = scheduler_status_;
  {
    std::lock_guard<std::mutex> lock(deaths_mu_);
    // Unless the verdict already names that process (the scheduler saw the death itself,
    // or had declared it dead before).
    if (!deaths_.empty()) r.first_death = deaths_.front().at;
    if (!r.status.ok() && !deaths_.empty() &&
        r.status.message().find("pid " + std::to_string(deaths_.front().pid) + " ") ==
            std::string::npos) {
      r.status = Status(r.status.code(), deaths_.front().what + "; then: " + r.status.message());
    }
  }
  // After SHUTDOWN a node needs a moment to leave; past that, it is stuck: end it.
  auto reap = [](std::vector<process::ChildProcess>& v, std::vector<int>* exits) {
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
  for (const auto& c : workers_) r.worker_peak_rss.push_back(c.peak_rss_bytes());
  for (const auto& c : servers_) r.server_peak_rss.push_back(c.peak_rss_bytes());
  for (auto& t : readers_) {
    if (t.joinable()) t.join();
  }
  r.worker_stdout = worker_stdout_;
  return r;
}

}  // namespace sparrow::launcher
