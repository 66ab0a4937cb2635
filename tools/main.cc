// `sparrow CMD [flags] [args]`: one binary, every role and tool as a subcommand, so any
// orchestrator (local fork, ssh, Slurm, Kubernetes) starts the same executable.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/command.h"

namespace sparrow::tools {
namespace {

void PrintTopHelp() {
  std::printf("sparrow: a parameter server for large sparse models (LR, FM, FFM)\n\n");
  std::printf("usage: sparrow COMMAND [--flag=value ...] [args]\n\ncommands:\n");
  for (const Command& c : Commands()) std::printf("  %-14s %s\n", c.name, c.summary);
  std::printf("\n`sparrow COMMAND --help` lists a command's flags.\n");
}

void PrintCommandHelp(const Command& c) {
  std::printf("usage: sparrow %s %s\n\n%s\n", c.name, c.usage, c.summary);
  if (c.flags.empty()) return;
  std::printf("\nflags:\n");
  for (const char* f : c.flags) {
    gflags::CommandLineFlagInfo info;
    if (!gflags::GetCommandLineFlagInfo(f, &info)) continue;
    std::printf("  --%s=%s (default %s)\n      %s\n", info.name.c_str(), info.type.c_str(),
                info.default_value.empty() ? "\"\"" : info.default_value.c_str(),
                info.description.c_str());
  }
}

std::vector<std::string>& MutableSetOverrides() {
  static std::vector<std::string> v;
  return v;
}

const Command* Find(int argc, char** argv, int* consumed) {
  if (argc >= 3) {
    std::string two = std::string(argv[1]) + " " + argv[2];
    for (const Command& c : Commands()) {
      if (two == c.name) {
        *consumed = 2;
        return &c;
      }
    }
  }
  for (const Command& c : Commands()) {
    if (std::strcmp(argv[1], c.name) == 0) {
      *consumed = 1;
      return &c;
    }
  }
  return nullptr;
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h") ||
        !std::strcmp(argv[i], "-help") || !std::strcmp(argv[i], "help"))
      return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& SetOverrides() {
  return MutableSetOverrides();
}

}  // namespace sparrow::tools

int main(int argc, char** argv) {
  using namespace sparrow::tools;
  // Large message buffers (keys, values) come and go per request. Keep freed memory in the
  // heap instead of returning it to the kernel, so the next request does not page-fault
  // its buffer in again (about 11 us per 4 KiB page on these machines).
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);

  if (argc < 2 || (argc == 2 && WantsHelp(argc, argv))) {
    PrintTopHelp();
    return argc < 2 ? 2 : 0;
  }
  int consumed = 0;
  const Command* cmd = Find(argc, argv, &consumed);
  if (cmd == nullptr) {
    std::fprintf(stderr, "sparrow: unknown command '%s'; `sparrow --help` lists them\n", argv[1]);
    return 2;
  }
  if (WantsHelp(argc, argv)) {
    PrintCommandHelp(*cmd);
    return 0;
  }
  // Hand gflags an argv of "sparrow <flags and args>" without the command words. `--set`
  // may repeat (gflags keeps only the last value of a flag), so it is collected here.
  std::vector<char*> rest;
  rest.push_back(argv[0]);
  for (int i = 1 + consumed; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--set" && i + 1 < argc) {
      MutableSetOverrides().push_back(argv[++i]);
    } else if (a.rfind("--set=", 0) == 0) {
      MutableSetOverrides().push_back(a.substr(6));
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  char** p = rest.data();
  gflags::SetUsageMessage(std::string("sparrow ") + cmd->name + " " + cmd->usage);
  gflags::ParseCommandLineFlags(&n, &p, /*remove_flags=*/true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // A crash leaves a stack trace in the process's log (for a cluster node, the file the
  // launcher names when it reports the death). SIGTERM stays as it was: the roles take it
  // through their own sigwait threads (cluster/signals.h) to leave in order.
  struct sigaction term;
  sigaction(SIGTERM, nullptr, &term);
  google::InstallFailureSignalHandler();
  sigaction(SIGTERM, &term, nullptr);
  std::vector<std::string> args(p + 1, p + n);
  return cmd->run(args);
}
