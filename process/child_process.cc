#include "process/child_process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <thread>

namespace sparrow::process {

ChildProcess::ChildProcess(ChildProcess&& o) noexcept {
  *this = std::move(o);
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    this->~ChildProcess();
    pid_ = o.pid_;
    stdout_fd_ = o.stdout_fd_;
    exit_status_ = o.exit_status_;
    peak_rss_bytes_ = o.peak_rss_bytes_;
    o.pid_ = -1;
    o.stdout_fd_ = -1;
    o.exit_status_.reset();
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_status_) {
    kill(pid_, SIGKILL);
    (void)Wait(-1);
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  pid_ = -1;
  stdout_fd_ = -1;
}

namespace {

// What the child needs between clone and exec, prepared by the parent: the child may not
// allocate (it shares the parent's memory until exec).
struct ChildSetup {
  char** argv;
  pid_t parent;
  int stdout_pipe;  // write end, or -1
  const char* stdout_path;
  const char* stderr_path;
};

// Runs in the child on its own stack; only async-signal-safe calls until exec.
int ChildMain(void* arg) {
  const auto* c = static_cast<const ChildSetup*>(arg);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != c->parent) _exit(127);
  if (c->stdout_pipe >= 0) {
    dup2(c->stdout_pipe, STDOUT_FILENO);
  } else if (c->stdout_path != nullptr) {
    const int fd = open(c->stdout_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, STDOUT_FILENO);
  }
  if (c->stderr_path != nullptr) {
    const int fd = open(c->stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(c->argv[0], c->argv);
  _exit(127);
}

}  // namespace

Result<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv,
                                         const SpawnOptions& options) {
  if (argv.empty()) return InvalidArgument("no program to start");
  int pipefd[2] = {-1, -1};
  if (options.capture_stdout && pipe2(pipefd, O_CLOEXEC) != 0) {
    return Internal(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ChildSetup setup{args.data(), getpid(), options.capture_stdout ? pipefd[1] : -1,
                   options.stdout_path.empty() ? nullptr : options.stdout_path.c_str(),
                   options.stderr_path.empty() ? nullptr : options.stderr_path.c_str()};
  // As posix_spawn does: the child borrows the parent's memory until exec (CLONE_VM,
  // CLONE_VFORK) instead of copying its page tables, which fork does and which costs
  // milliseconds in a large or virtualised parent. It runs on a stack of its own, and
  // with every signal blocked until just before exec, when it sets an empty mask; the
  // processes that spawn handle signals in sigwait threads, so no handler of theirs can
  // run in the child.
  constexpr size_t kStack = 64 * 1024;
  std::unique_ptr<char[]> stack(new char[kStack]);
  char* top = stack.get() + kStack;
  top -= reinterpret_cast<uintptr_t>(top) % 16;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
#if defined(__SANITIZE_THREAD__)
  // TSan's runtime cannot follow a child that shares its parent's memory: fork there.
  const pid_t pid = fork();
  if (pid == 0) ChildMain(&setup);
#else
  const pid_t pid = clone(ChildMain, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &setup);
#endif
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    if (pipefd[0] >= 0) close(pipefd[0]);
    if (pipefd[1] >= 0) close(pipefd[1]);
    return Internal(std::string("clone: ") + std::strerror(clone_errno));
  }
  ChildProcess child;
  child.pid_ = pid;
  if (options.capture_stdout) {
    close(pipefd[1]);
    child.stdout_fd_ = pipefd[0];
  }
  return child;
}

std::optional<int> ChildProcess::Wait(int timeout_ms) {
  if (exit_status_) return exit_status_;
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    rusage usage{};
    const pid_t r = wait4(pid_, &status, timeout_ms < 0 ? 0 : WNOHANG, &usage);
    if (r == pid_) {
      peak_rss_bytes_ = static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // reported in KiB
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return exit_status_;
    }
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0 && !exit_status_) kill(pid_, sig);
}

std::string ChildProcess::ReadAllStdout() {
  std::string out;
  if (stdout_fd_ < 0) return out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  return out;
}

void ChildProcess::ReadStdoutLines(const std::function<void(const std::string&)>& on_line) {
  if (stdout_fd_ < 0) return;
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      on_line(pending.substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line(pending);
}

std::string DescribeExit(int status) {
  if (status >= 0) return "exit " + std::to_string(status);
  const char* abbrev = sigabbrev_np(-status);
  const std::string name =
      abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(-status);
  return "killed by " + name + " (" + strsignal(-status) + ")";
}

std::vector<RunningChild> ChildrenOf(pid_t parent) {
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string p = std::to_string(parent);
  std::istringstream children(slurp("/proc/" + p + "/task/" + p + "/children"));
  std::vector<RunningChild> out;
  pid_t pid;
  while (children >> pid) {
    const std::string cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline");
    const size_t first = cmdline.find('\0');  // argv[0] NUL argv[1] NUL ...
    if (first == std::string::npos) continue;
    const size_t second = cmdline.find('\0', first + 1);
    out.push_back(
        {pid, cmdline.substr(first + 1, second == std::string::npos ? std::string::npos
                                                                    : second - first - 1)});
  }
  return out;
}

}  // namespace sparrow::process
