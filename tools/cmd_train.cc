// `sparrow train CONFIG`: the launcher (launcher/launcher.h).
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cstdio>

#include "cluster/signals.h"
#include "launcher/launcher.h"
#include "tools/command.h"
#include "tools/train_commands.h"

DEFINE_string(out, "", "train: run directory (default: the config's output.dir, else runs/NAME)");

namespace sparrow::tools {

int RunTrain(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::fprintf(stderr, "usage: sparrow train CONFIG [--out=DIR] [--set field=value ...]\n");
    return 2;
  }
  // The launcher speaks through its progress lines; the in-process scheduler's routine
  // log lines would bury them (every process's full log is in the run's logs/ folder).
  FLAGS_minloglevel = std::max(FLAGS_minloglevel, 1);
  launcher::LaunchOptions o;
  o.config_path = args[0];
  o.out_dir = FLAGS_out;
  o.overrides = SetOverrides();
  o.binary = SelfExecutable();
  launcher::Launcher l(o);
  Status st = l.Prepare();
  if (!st.ok()) {
    std::fprintf(stderr, "sparrow train: %s\n", st.message().c_str());
    return 2;
  }
  cluster::HandleTerminationSignals([&l](int sig) {
    std::fprintf(stderr, "sparrow train: signal %d, stopping the cluster\n", sig);
    l.Interrupt("interrupted by signal " + std::to_string(sig));
  });
  st = l.Run();
  if (!st.ok()) {
    std::fprintf(stderr, "sparrow train: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace sparrow::tools
