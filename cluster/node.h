// Node: what every server and worker process runs to be part of a cluster.
//
// Start() binds the node's ROUTER, registers with the scheduler (role and address), waits
// for the node table, and connects to the peers its role talks to (workers -> servers,
// servers -> workers): over a link (a Unix socket, transport/link.h) when the peer shares
// this host and local_ipc is on, over ZeroMQ and TCP otherwise. From then on a heartbeat thread
// reports to the scheduler, control messages (barrier releases, dead nodes, shutdown) are handled
// here, and every other message goes to the role's handler.
//
// Thread safety: all public methods may be called from any thread, except that Barrier(),
// WaitForShutdown() and Stop() must not be called from the handler (they block on it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/node_table.h"
#include "core/status.h"
#include "transport/van.h"

namespace sparrow::cluster {

struct NodeOptions {
  wire::Role role = wire::WORKER;
  std::string scheduler;             // "HOST:PORT" of the scheduler
  std::string bind = "127.0.0.1:0";  // where this node listens; port 0 picks one
  int heartbeat_ms = 1000;
  int scheduler_timeout_ms = 15000;  // silence after which the scheduler counts as lost
  int register_timeout_ms = 60000;   // how long to wait for the node table
  // Also listen for links (transport/link.h), and reach peers of the same host
  // (HostScope) over theirs rather than through ZeroMQ and loopback TCP. The scheduler is
  // always reached over TCP.
  bool local_ipc = true;
  // Microseconds the receive thread (and a worker's pumping thread) keep polling after a
  // burst of messages before they sleep (transport::Van::SetPollSpin).
  int poll_spin_us = 50;
  // The cluster keypair file (sparrow keygen): every ZeroMQ connection, the scheduler's
  // included, is then CURVE-authenticated and peers without the keypair are refused
  // (transport/curve.h). Empty: no authentication on ZeroMQ. Links always admit only
  // processes of this uid.
  std::string curve_keys;
  // The rank to ask for among nodes of this role (e.g. the orchestrator's task index, or
  // the launcher's spawn index, so logs named by it match the rank); -1: any.
  int rank_hint = -1;
};

class Node {
 public:
  using Handler = std::function<void(transport::Message&&)>;
  using DeadHandler = std::function<void(const std::vector<int>& dead, const std::string& why)>;

  explicit Node(NodeOptions options);
  ~Node();  // Stop()s.

  // Joins the cluster; `handler` receives every non-control message on the receive thread.
  // Returns after the node table arrived and peers are connected, or the reason it could not
  // join (scheduler unreachable within register_timeout_ms, which is also how a scheduler
  // that refuses this node's CURVE keys shows; rejected registration; unusable keys file).
  Status Start(Handler handler);

  // Called (on the receive thread) when the scheduler declares nodes dead, or with
  // {kSchedulerId} when the scheduler itself is lost. Set before Start().
  void SetDeadHandler(DeadHandler h) { dead_handler_ = std::move(h); }
  // Called (on the receive thread) when the scheduler ends the cluster as failed, before
  // WaitForShutdown() returns: for a role whose main thread may be busy for long (a worker
  // reading its data) and should not keep a failed cluster waiting. Before Start().
  void SetFailedHandler(std::function<void(const std::string& why)> h) {
    failed_handler_ = std::move(h);
  }

  int id() const { return id_; }
  int rank() const { return rank_; }
  wire::Role role() const { return options_.role; }
  const NodeTable& table() const { return table_; }
  transport::Van& van() { return van_; }
  // True once `id` was declared dead.
  bool IsDead(int id) const;

  // Blocks until every live node of `group` (SERVER, WORKER, or ROLE_UNSPECIFIED for all
  // servers and workers) entered the same barrier. Aborted if the cluster shuts down.
  Status Barrier(wire::Role group);
  // A barrier that also reduces: on return *sums holds the element-wise sums and *maxima
  // the element-wise maxima of what every node of the group passed (each must pass as
  // many of each), summed in node-id order, so every node gets the same bits. For
  // cluster-wide counts and losses (steps per epoch, validation loss).
  Status AllReduce(wire::Role group, std::vector<double>* sums, std::vector<double>* maxima);

  // Workers: tells the scheduler this worker's work is done (or failed, with why).
  void Finish(bool failed, const std::string& reason);

  // Blocks until the scheduler orders shutdown. OK for an orderly shutdown; the reason
  // otherwise (cluster failed, scheduler lost).
  Status WaitForShutdown();
  bool shutting_down() const { return shutdown_.load(); }

  // Leaves the cluster: stops heartbeats and the transport. Idempotent.
  void Stop();

 private:
  // Listens for links and records the address in `self` (the registration); on failure
  // the node stays on ZeroMQ only.
  void BindLocal(wire::NodeInfo* self);
  // Where to reach `peer`: its Unix socket when it shares this node's HostScope.
  const std::string& PeerAddress(const wire::NodeInfo& peer) const;
  void OnMessage(transport::Message&& msg);
  void OnControl(const transport::Message& msg);
  void HeartbeatLoop();
  void MarkShutdown(Status why);
  Status SendToScheduler(wire::Command cmd, wire::Control* control = nullptr,
                         uint64_t request_id = 0);

  NodeOptions options_;
  transport::Van van_;
  Handler handler_;
  DeadHandler dead_handler_;
  std::function<void(const std::string&)> failed_handler_;
  std::atomic<int> id_{-1};  // read by Finish() from a signal-handling thread
  int rank_ = -1;
  NodeTable table_;
  std::string host_scope_;  // set in Start() when local_ipc

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool have_table_ = false;
  Status register_error_;
  uint64_t barrier_seq_ = 0;
  uint64_t barrier_released_ = 0;
  // Reductions of released barriers not yet picked up, by sequence number.
  std::map<uint64_t, wire::Control> reduced_;
  std::vector<int> dead_;
  std::atomic<bool> shutdown_{false};
  Status shutdown_status_;
  std::atomic<int64_t> last_scheduler_contact_ms_{0};

  std::thread heartbeat_;
  std::condition_variable stop_cv_;  // wakes the heartbeat thread on Stop()
  std::atomic<bool> stop_{false};
  bool stopped_ = false;
};

// Milliseconds on a monotonic clock.
int64_t NowMs();
// Which nodes can reach each other's abstract Unix sockets: the kernel's boot id and this
// process's network namespace, "BOOT_ID/net:[INODE]". Empty where either is unknown (then
// nodes talk over TCP only).
std::string HostScope();

// Milliseconds since the Unix epoch (wall clock): comparable across processes of a host,
// for timestamps one process reports to another.
int64_t UnixMs();

}  // namespace sparrow::cluster
