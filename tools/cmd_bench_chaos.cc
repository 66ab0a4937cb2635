// `sparrow bench chaos CONFIG [--kills=N] [--seed=S]`: what deaths cost a training run.
//
// Trains CONFIG once undisturbed, then once more while SIGKILLing N processes of its
// cluster (a random server or worker each time, at random times in the middle 80% of the
// undisturbed run's wall time; a kill that falls before the cluster the previous one
// restarted trains again waits for it, so every kill costs one restart, and the kills
// after it move by as much, keeping their spacing). Both runs are real `sparrow train` launchers,
// in a scratch directory. Prints each kill (which process, when, how long until every worker
// trained again, from the run's metrics.json) and, last:
//   chaos: runs=<n> finished=<n> kills=<n> max_metric_drop=<x> max_recovery_ms=<n>
// where the metric is the config's test AUC (drop = undisturbed - chaos) or, without one,
// its Poisson deviance or RMSE (drop = chaos - undisturbed).
#include <gflags/gflags.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "process/child_process.h"
#include "tools/command.h"
#include "tools/train_commands.h"

DEFINE_int32(kills, 5, "bench chaos: processes to kill with SIGKILL during the second run");
DECLARE_uint64(seed);
DECLARE_string(out);

namespace sparrow::tools {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Trained {
  int exit = -1;
  double wall_s = 0;
  nlohmann::json metrics;  // metrics.json, when the run finished
};

struct Kill {
  double at_s;  // into the run
  std::string role;
  pid_t pid;
};

// Starts `sparrow train config --out=dir` with `sets`, quietly (its output in dir.out).
Result<process::ChildProcess> StartTraining(const std::string& config, const std::string& dir,
                                            const std::vector<std::string>& sets) {
  std::vector<std::string> argv = {SelfExecutable(), "train", config, "--out=" + dir};
  for (const auto& s : sets) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  for (const auto& s : SetOverrides()) {
    argv.push_back("--set");
    argv.push_back(s);
  }
  process::SpawnOptions o;
  o.stdout_path = dir + ".out";
  o.stderr_path = dir + ".out";
  return process::ChildProcess::Spawn(argv, o);
}

Trained Finish(process::ChildProcess* launcher, const std::string& dir, Clock::time_point t0) {
  Trained t;
  t.exit = launcher->Wait(-1).value_or(-999);
  t.wall_s = Since(t0);
  std::ifstream in(dir + "/metrics.json");
  if (t.exit == 0 && in) t.metrics = nlohmann::json::parse(in, nullptr, false);
  return t;
}

// Lines of the file at `path` that start with `prefix`.
size_t Count(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) n += line.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

// The config's test metric and whether higher is better.
std::pair<std::string, bool> MetricOf(const nlohmann::json& test) {
  if (test.contains("auc")) return {"auc", true};
  if (test.contains("poisson_deviance")) return {"poisson_deviance", false};
  return {"rmse", false};
}

}  // namespace

int RunBenchChaos(const std::vector<std::string>& args) {
  if (args.size() != 1 || FLAGS_kills < 0) {
    std::fprintf(stderr, "usage: sparrow bench chaos CONFIG [--kills=N] [--seed=S] [--out=DIR]\n");
    return 2;
  }
  const std::string config = args[0];
  const std::string root =
      FLAGS_out.empty()
          ? (fs::temp_directory_path() / ("sparrow-chaos-" + std::to_string(getpid()))).string()
          : FLAGS_out;
  fs::create_directories(root);
  std::printf("bench chaos: %s, %d kill(s), seed %lu, runs in %s\n", config.c_str(), FLAGS_kills,
              static_cast<unsigned long>(FLAGS_seed), root.c_str());
  std::fflush(stdout);

  // 1. Undisturbed.
  const std::string calm_dir = root + "/calm";
  auto t0 = Clock::now();
  auto calm_launcher = StartTraining(config, calm_dir, {});
  if (!calm_launcher.ok()) {
    std::fprintf(stderr, "bench chaos: %s\n", calm_launcher.status().message().c_str());
    return 1;
  }
  const Trained calm = Finish(&*calm_launcher, calm_dir, t0);
  if (calm.exit != 0 || calm.metrics.is_discarded() || calm.metrics.is_null()) {
    std::fprintf(stderr, "bench chaos: the undisturbed run failed (exit %d); see %s.out\n",
                 calm.exit, calm_dir.c_str());
    return 1;
  }
  const auto [metric, higher_better] = MetricOf(calm.metrics["test"]);
  const double calm_value = calm.metrics["test"][metric].get<double>();
  std::printf("undisturbed: %.2f s, test %s %.4f\n", calm.wall_s, metric.c_str(), calm_value);
  std::fflush(stdout);

  // 2. The same config, with kills at random times in the middle 80% of that wall time.
  std::mt19937_64 rng(FLAGS_seed);
  std::uniform_real_distribution<double> when(0.1 * calm.wall_s, 0.9 * calm.wall_s);
  std::vector<double> times(static_cast<size_t>(FLAGS_kills));
  for (double& t : times) t = when(rng);
  std::sort(times.begin(), times.end());
  const std::string chaos_dir = root + "/chaos";
  t0 = Clock::now();
  auto launcher =
      StartTraining(config, chaos_dir, {"cluster.max_restarts=" + std::to_string(FLAGS_kills + 1)});
  if (!launcher.ok()) {
    std::fprintf(stderr, "bench chaos: %s\n", launcher.status().message().c_str());
    return 1;
  }
  std::vector<Kill> kills;
  double shift = 0;  // time the run lost to restarts so far: kills keep their spacing
  for (double t : times) {
    std::this_thread::sleep_for(
        std::chrono::duration<double>(std::max(0.0, t + shift - Since(t0))));
    const double due = Since(t0);
    // A kill lands on a cluster that trains: after the previous one, wait until the
    // launcher says every worker of the restarted cluster trains again.
    std::vector<process::RunningChild> nodes;
    while (launcher->running() && !launcher->Wait(0)) {
      nodes.clear();
      if (Count(chaos_dir + ".out", "training again ") >= kills.size()) {
        for (const auto& c : process::ChildrenOf(launcher->pid())) {
          if (c.command == "server" || c.command == "worker") nodes.push_back(c);
        }
      }
      if (!nodes.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (nodes.empty()) break;  // the run ended first
    shift += Since(t0) - due;
    const auto& victim = nodes[std::uniform_int_distribution<size_t>(0, nodes.size() - 1)(rng)];
    if (kill(victim.pid, SIGKILL) == 0) kills.push_back({Since(t0), victim.command, victim.pid});
  }
  const Trained chaos = Finish(&*launcher, chaos_dir, t0);

  const bool finished = chaos.exit == 0 && chaos.metrics.is_object();
  double max_recovery_ms = 0;
  const nlohmann::json restarts =
      finished ? chaos.metrics.value("restarts", nlohmann::json::array()) : nlohmann::json();
  for (size_t i = 0; i < kills.size(); ++i) {
    double recovery_ms = -1;
    if (finished && i < restarts.size()) {
      recovery_ms = restarts[i].value("recovery_s", -1.0) * 1000;
      max_recovery_ms = std::max(max_recovery_ms, recovery_ms);
    }
    std::printf("kill %zu: %s pid %d at %.2f s; ", i + 1, kills[i].role.c_str(), kills[i].pid,
                kills[i].at_s);
    if (recovery_ms >= 0) {
      std::printf("training again after %.0f ms (resumed after epoch %d)\n", recovery_ms,
                  restarts[i].value("from_epoch", 0));
    } else {
      std::printf("no restart recorded\n");
    }
  }
  double drop = 0;
  if (finished) {
    const double v = chaos.metrics["test"][metric].get<double>();
    drop = higher_better ? calm_value - v : v - calm_value;
    std::printf("with kills: %.2f s (undisturbed %.2f s), exit %d, test %s %.4f\n", chaos.wall_s,
                calm.wall_s, chaos.exit, metric.c_str(), v);
  } else {
    std::printf("with kills: exit %d after %.2f s; see %s.out\n", chaos.exit, chaos.wall_s,
                chaos_dir.c_str());
  }
  std::printf("chaos: runs=2 finished=%d kills=%zu max_metric_drop=%.4f max_recovery_ms=%.0f\n",
              1 + (finished ? 1 : 0), kills.size(), drop, max_recovery_ms);
  std::fflush(stdout);
  if (FLAGS_out.empty()) fs::remove_all(root);
  return finished ? 0 : 1;
}

}  // namespace sparrow::tools
