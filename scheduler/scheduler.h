// Scheduler: the one coordinator of a cluster.
//
// It waits for the expected servers and workers to register, numbers them (scheduler 0,
// servers 1..S, workers S+1..S+W), gives server rank r the r-th of S equal ranges of the
// 64-bit key space, and sends everyone the node table. Then it serves barriers, watches
// heartbeats (a node silent past the timeout is declared dead and every node is told),
// and ends the cluster: when every live worker has finished, or at once when a server
// dies (its keys are gone) or on RequestShutdown().
//
// A process that starts the nodes itself (launcher/local_cluster.h) learns of a death
// before any heartbeat times out: it reports the exit through ProcessExited(), and a node
// that ended without finishing fails the run at once, with how it ended.
//
// Thread safety: Run() on one thread; RequestShutdown() and ProcessExited() from any
// thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "transport/van.h"

namespace sparrow::scheduler {

struct SchedulerOptions {
  std::string bind = "127.0.0.1:0";
  int num_servers = 1;
  int num_workers = 1;
  int max_delay = -1;  // broadcast to every node: 0 BSP, k bounded delay, -1 asynchronous
  int heartbeat_timeout_ms = 10000;
  int register_timeout_ms = 120000;
  // The cluster keypair file (sparrow keygen): nodes without it are refused (CURVE,
  // transport/curve.h). Empty: no authentication.
  std::string curve_keys;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);

  // Binds the scheduler's socket; returns its endpoint (for "--scheduler=").
  Result<std::string> Bind();

  // Runs the cluster to its end. OK if every worker finished its work and no node died;
  // otherwise the reason, in one line (which node, what happened).
  Status Run();

  // Ends the cluster now (Ctrl-C): tells every node to shut down, marked failed.
  void RequestShutdown(const std::string& reason);

  // Process `pid` of this host ended; `how` says how, for people ("killed by signal 11
  // (Segmentation fault) after 0.4 s; its log ..."). Ignored once the cluster is ending
  // or when the node had finished. A node killed by a signal is declared dead at once and
  // the run fails with `how`. One that exited with a status most likely said why in its
  // last message, which may still be on its way: it gets kExitGraceMs to arrive before the
  // exit itself is the reason. A process that never registered fails the run the same way,
  // named by `label` (e.g. "worker process 1").
  void ProcessExited(int pid, const std::string& label, const std::string& how, bool signaled);
  static constexpr int64_t kExitGraceMs = 1000;

 private:
  struct Member {
    wire::NodeInfo info;
    int64_t last_seen_ms = 0;
    bool dead = false;
    bool finished = false;
  };

  void OnMessage(transport::Message&& msg);
  void OnReject(const wire::Header& header, const Status& why);
  void OnRegister(const wire::Header& h);
  void AssignAndBroadcast();
  void OnBarrier(const wire::Header& h);
  void MaybeReleaseBarriers();
  void OnFinish(const wire::Header& h);
  void CheckHeartbeats();
  // Acts on the exits ProcessExited() recorded (see there).
  void CheckExits();
  void Broadcast(wire::Command cmd, const wire::Control& control);
  void Reply(int node, wire::Command cmd, uint64_t request_id, const std::string& error = "");
  void ShutdownLocked(bool failed, const std::string& reason);
  std::string Describe(const Member& m) const;
  bool InGroup(const Member& m, wire::Role group) const;

  SchedulerOptions options_;
  transport::Van van_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<wire::NodeInfo> pending_;  // registered, not yet numbered
  std::map<int, Member> members_;        // by node id, once numbered
  struct Exit {
    int pid;
    std::string label, how;
    int64_t deadline_ms;  // when the exit itself becomes the reason
  };
  std::vector<Exit> exits_;  // reported by ProcessExited, not yet acted on
  bool assigned_ = false;
  // group -> (node id -> what it entered the group's barrier with: its sequence number
  // and contributions)
  struct Entered {
    uint64_t seq;
    std::vector<double> sums, maxima;
  };
  std::map<int, std::map<int, Entered>> barriers_;
  bool done_ = false;
  Status result_;
  std::vector<std::string> failures_;
  int next_temp_peer_ = -1000;  // for error replies to nodes that never got an id
};

}  // namespace sparrow::scheduler
