// ExitWatch: learns the moment a child process ends, without reaping it.
//
// A launcher must not wait for a heartbeat timeout to notice that a child it started has
// died: the kernel tells it at once. ExitWatch holds a pidfd per child (pidfd_open) and
// polls them on a thread of its own; when one becomes readable it reads the exit status
// with waitid(WNOWAIT), which leaves the child waitable, so the ChildProcess that owns it
// still reaps it and sees the same status.
//
// Thread safety: construct, Start() and Stop() (or destroy) on one thread; `on_exit` runs
// on the watch's thread, once per child, in the order the children end.
#pragma once

#include <sys/types.h>

#include <functional>
#include <thread>
#include <vector>

#include "core/status.h"

namespace sparrow::process {

class ExitWatch {
 public:
  // status: the exit code (>= 0) or minus the signal that ended the child, as
  // ChildProcess::Wait reports it.
  using OnExit = std::function<void(pid_t pid, int status)>;

  ExitWatch() = default;
  ~ExitWatch() { Stop(); }
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;

  // Starts watching `pids` (children of this process). Fails if a pidfd cannot be opened
  // (kernel before 5.3) and then watches nothing.
  Status Start(const std::vector<pid_t>& pids, OnExit on_exit);
  // Ends the watch; on_exit is not called after Stop() returns. Idempotent.
  void Stop();

 private:
  void Loop();

  std::vector<pid_t> pids_;
  std::vector<int> fds_;  // pidfd per pid
  int wake_fd_ = -1;      // eventfd: Stop() wakes the thread
  OnExit on_exit_;
  std::thread thread_;
};

}  // namespace sparrow::process
