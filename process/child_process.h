// ChildProcess: a process this one started (a role of a local cluster, a daemon under
// test). The child dies with its parent (PR_SET_PDEATHSIG), so no process of a cluster
// outlives the launcher, even when the launcher is killed.
//
// Thread safety: one owner thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace sparrow::process {

struct SpawnOptions {
  bool capture_stdout = false;  // read it through stdout_fd()
  std::string stdout_path;      // else, if set, append stdout here
  std::string stderr_path;      // if set, append stderr here (default: inherit)
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // SIGKILLs and reaps a child still running

  // Starts argv[0] (a path) with the given arguments.
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv,
                                    const SpawnOptions& options = {});

  pid_t pid() const { return pid_; }
  int stdout_fd() const { return stdout_fd_; }
  bool running() const { return pid_ > 0 && !exit_status_; }

  // Waits up to timeout_ms (-1: forever). Returns the exit code (>= 0) or minus the number of
  // the signal that ended it; nullopt if still running at the deadline.
  std::optional<int> Wait(int timeout_ms);
  // The child's peak resident memory (the kernel's ru_maxrss), known once Wait() reaped it;
  // 0 before.
  uint64_t peak_rss_bytes() const { return peak_rss_bytes_; }
  // Sends `sig` if the child is still running.
  void Signal(int sig);
  // Reads everything the child writes to stdout until it closes it (capture_stdout).
  std::string ReadAllStdout();
  // Calls on_line(line) for each line the child writes to stdout (without the newline),
  // as it arrives, until the child closes stdout (capture_stdout).
  void ReadStdoutLines(const std::function<void(const std::string&)>& on_line);

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::optional<int> exit_status_;
  uint64_t peak_rss_bytes_ = 0;
};

// Describes an exit status from Wait(): "exit 0", "killed by SIGKILL (Killed)".
std::string DescribeExit(int status);

// A running child of some process, and the first argument it was started with (for a
// `sparrow` process, its command: "server", "worker", ...).
struct RunningChild {
  pid_t pid;
  std::string command;
};
// The children of `parent` that its main thread started, from /proc (empty if it is gone).
std::vector<RunningChild> ChildrenOf(pid_t parent);

}  // namespace sparrow::process
