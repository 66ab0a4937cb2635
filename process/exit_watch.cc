#include "process/exit_watch.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sparrow::process {

Status ExitWatch::Start(const std::vector<pid_t>& pids, OnExit on_exit) {
  Stop();
  for (pid_t pid : pids) {
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
      const std::string why = std::strerror(errno);
      for (int f : fds_) close(f);
      fds_.clear();
      return Unavailable("pidfd_open(" + std::to_string(pid) + "): " + why);
    }
    fds_.push_back(fd);
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    for (int f : fds_) close(f);
    fds_.clear();
    return Unavailable(std::string("eventfd: ") + std::strerror(errno));
  }
  pids_ = pids;
  on_exit_ = std::move(on_exit);
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void ExitWatch::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  for (int f : fds_) close(f);
  fds_.clear();
  pids_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void ExitWatch::Loop() {
  std::vector<bool> ended(pids_.size(), false);
  size_t left = pids_.size();
  std::vector<pollfd> fds;
  std::vector<size_t> index;  // fds[j] watches pids_[index[j]] (the last one is wake_fd_)
  while (left > 0) {
    fds.clear();
    index.clear();
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (ended[i]) continue;
      fds.push_back({fds_[i], POLLIN, 0});
      index.push_back(i);
    }
    fds.push_back({wake_fd_, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds.back().revents != 0) return;  // Stop()
    for (size_t j = 0; j + 1 < fds.size(); ++j) {
      if (fds[j].revents == 0) continue;
      const size_t i = index[j];
      ended[i] = true;
      --left;
      siginfo_t info;
      std::memset(&info, 0, sizeof(info));
      // WNOWAIT: peek. The owner of the child reaps it and reads the same status.
      if (waitid(P_PID, static_cast<id_t>(pids_[i]), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid == 0) {
        continue;  // already reaped by its owner: it is ending the cluster itself
      }
      on_exit_(pids_[i], info.si_code == CLD_EXITED ? info.si_status : -info.si_status);
    }
  }
}

}  // namespace sparrow::process
