// `sparrow train CONFIG`: the launcher (launcher/launcher.h).
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cstdio>

#include "cluster/signals.h"
#include "launcher/cluster_keys.h"
#include "launcher/launcher.h"
#include "tools/command.h"
#include "tools/train_commands.h"

DEFINE_string(out, "",
              "train: run directory (default: the config's output.dir, else runs/NAME); "
              "keygen: the keypair file to write; bench chaos: where its two runs go (default: "
              "a temporary directory, removed at the end)");
DEFINE_string(stage, "all",
              "train: all = run a local cluster; prepare = only write the run directory, for "
              "an orchestrator to start the processes; finish = merge and evaluate a run "
              "directory whose processes have ended");

DEFINE_bool(resume, false,
            "train: continue the run in --out=DIR from its newest complete checkpoint, with "
            "the config and feature spec it started with (from the start if it has none)");

namespace sparrow::tools {

namespace {

// What an orchestrator runs, once the run directory exists. `keys`: the cluster keypair
// every process must be given ("" when the config turned CURVE off).
void PrintProcesses(const launcher::Launcher& l, const std::string& config_path,
                    const std::string& keys) {
  const auto& dir = l.run_dir().root;
  const std::string k = keys.empty() ? "" : " --curve_keys=" + keys;
  std::printf(
      "run directory %s is ready; start, on any machines sharing it:\n"
      "  sparrow scheduler --scheduler=HOST:PORT --servers=S --workers=W --max_delay=D%s\n"
      "  sparrow server --scheduler=HOST:PORT --bind=MYHOST:0%s             (S times)\n"
      "  sparrow worker --scheduler=HOST:PORT --bind=MYHOST:0 --task=train --run_dir=%s%s"
      "   (W times)\n"
      "with S, W and D as in %s/config.pbtxt; then: sparrow train %s --stage=finish --out=%s\n",
      dir.c_str(), k.c_str(), k.c_str(), dir.c_str(), k.c_str(), dir.c_str(), config_path.c_str(),
      dir.c_str());
  if (!keys.empty()) {
    std::printf(
        "%s is the cluster's keypair (mode 0600): every process needs it, and one without "
        "it is refused\n",
        keys.c_str());
  }
}

int Fail(int code, const Status& st) {
  std::fprintf(stderr, "sparrow train: %s\n", st.message().c_str());
  return code;
}

}  // namespace

int RunTrain(const std::vector<std::string>& args) {
  const bool finish = FLAGS_stage == "finish";
  if (FLAGS_stage != "all" && FLAGS_stage != "prepare" && !finish) {
    std::fprintf(stderr, "sparrow train: --stage must be all, prepare or finish\n");
    return 2;
  }
  if (args.size() != 1 && !(finish && args.empty())) {
    std::fprintf(stderr,
                 "usage: sparrow train CONFIG [--out=DIR] [--set field=value ...] "
                 "[--stage=all|prepare|finish]\n");
    return 2;
  }
  // The launcher speaks through its progress lines; the in-process scheduler's routine
  // log lines would bury them (every process's full log is in the run's logs/ folder).
  FLAGS_minloglevel = std::max(FLAGS_minloglevel, 1);
  launcher::LaunchOptions o;
  o.config_path = args.empty() ? "" : args[0];
  o.out_dir = FLAGS_out;
  o.overrides = SetOverrides();
  o.binary = SelfExecutable();
  o.resume = FLAGS_resume;
  launcher::Launcher l(o);
  if (finish) {
    Status st = l.Finish();
    return st.ok() ? 0 : Fail(1, st);
  }
  Status st = l.Prepare();
  if (!st.ok()) return Fail(2, st);
  if (FLAGS_stage == "prepare") {
    // Processes started by hand may be on other hosts: CURVE unless the config says no.
    Result<std::string> keys =
        launcher::RunCurveKeys(l.config().cluster(), l.run_dir().root, /*all_local=*/false);
    if (!keys.ok()) return Fail(2, keys.status());
    PrintProcesses(l, o.config_path, *keys);
    return 0;
  }
  cluster::HandleTerminationSignals([&l](int sig) {
    std::fprintf(stderr, "sparrow train: signal %d, stopping the cluster\n", sig);
    l.Interrupt("interrupted by signal " + std::to_string(sig));
  });
  st = l.Run();
  return st.ok() ? 0 : Fail(1, st);
}

}  // namespace sparrow::tools
