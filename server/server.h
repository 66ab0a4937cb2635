// Server: serves one key range of every table to the workers.
//
// Handles CREATE_TABLE, PUSH, PULL, PUSH_PULL, CLOCK, STATS, SAVE and CHECKPOINT on the
// node's receive thread, which owns the tables (no locks on the store). A data message may carry
// several slices (one per table). Every request is checked whole before any of it is applied:
// frames against the header, keys sorted, unique and inside this server's range, known tables,
// matching widths. A bad request gets an ERROR reply naming the reason; the server keeps serving.
//
// Retries: a worker that hears nothing sends a data request again with the same request
// id; a push is applied on its first delivery only (FirstDelivery), a pull is answered
// every time (reading twice changes nothing).
//
// Consistency: each worker's clock is the number of minibatches it has finished (CLOCK, or
// a PUSH flagged END_OF_STEP).
// A PULL stamped with clock c waits while c - max_delay exceeds the slowest live worker's
// clock (max_delay 0 is BSP; -1 never waits). Finished and dead workers stop counting.
//
// Thread safety: Handle() and OnDead() on the node's receive thread only.
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>

#include "cluster/node.h"
#include "server/table.h"

namespace sparrow::server {

class Server {
 public:
  // `node` must outlive the server; call Attach() before node->Start(). Each table is cut
  // into `threads` parts, served by that many threads for large requests.
  Server(cluster::Node* node, int threads);
  ~Server();  // waits for a checkpoint part being written
  void Attach();
  // Restores the checkpoint in `dir` (checkpoint/checkpoint.h; the keys of this server's
  // range, from however many servers wrote it) before handling the first request. Call
  // before node->Start(). If it fails, every request is answered with why.
  void RestoreFrom(std::string dir) { restore_dir_ = std::move(dir); }

  // Data and control messages for this server (the node's handler).
  void Handle(transport::Message&& msg);

 private:
  void OnDead(const std::vector<int>& dead);
  Status CreateTable(const transport::Message& msg);
  // Checks a PUSH or PUSH_PULL whole, then applies its pushed slices, unless the same
  // request was delivered before (a retry): see FirstDelivery.
  Status Push(const transport::Message& msg);
  // Whether this is the first delivery of request h.request_id() from h.sender(), from the
  // ids delivered since the sender's oldest pending request (Header.oldest_pending).
  bool FirstDelivery(const wire::Header& h);
  // Checks a PULL, then serves it (ServePull).
  void Pull(transport::Message&& msg);
  // Replies with the pulled slices of a checked PULL or PUSH_PULL, or holds it while the
  // consistency clock says it is too early.
  void ServePull(transport::Message&& msg);
  void Clock(const transport::Message& msg);
  // Advances `worker`'s clock to `clock` (int64 max: finished) and releases pulls.
  void AdvanceClock(int worker, int64_t clock);
  // The tables of msg's slices, checked against each slice's width (a PULL's width 0
  // means "the table's").
  Result<std::vector<Table*>> SliceTables(const transport::Message& msg);
  void Stats(const transport::Message& msg);
  Status Save(const transport::Message& msg);
  // Copies the tables of a checkpoint (wire CHECKPOINT) and starts writing its part on
  // writer_; a part still being written is waited for first.
  Status Checkpoint(const transport::Message& msg);
  // Answers CHECKPOINT_STATUS.
  void CheckpointStatus(const transport::Message& msg);
  // Restores restore_dir_ once (see RestoreFrom), on the first request.
  Status EnsureRestored();
  // The table for `spec`: the existing one if its spec matches (the capacity hint aside),
  // else a new one.
  Result<Table*> TableFor(const wire::TableSpec& spec);
  Result<Table*> FindTable(uint32_t id);
  // Whether the pull of `h` may be served now (see the consistency rule above).
  bool PullReady(const wire::Header& h) const;
  void ReleaseHeldPulls();
  void ReplyAck(const wire::Header& req, wire::Control* control = nullptr);
  // An ERROR reply carrying `why` (its code and message), logged.
  void ReplyError(const wire::Header& req, const Status& why);
  void Send(int to, transport::Message& msg);
  void EnsureWorkerClocks();

  cluster::Node* node_;
  int threads_;
  tbb::task_arena arena_;
  std::map<uint32_t, std::unique_ptr<Table>> tables_;
  std::map<int, int64_t> worker_clock_;  // live, unfinished workers only
  bool clocks_initialised_ = false;
  std::deque<transport::Message> held_pulls_;
  // Per sender: pushes delivered at or above its oldest pending request, so that a push
  // sent again after a timeout is applied once (at-least-once delivery, exactly-once
  // effect).
  struct Delivered {
    uint64_t floor = 0;
    std::unordered_set<uint64_t> ids;
    size_t kept = 0;  // ids left by the last prune
  };
  std::map<int, Delivered> delivered_;
  // The checkpoint part being written, and the results of those written, by directory.
  std::thread writer_;
  std::mutex written_mu_;
  std::map<std::string, Status> written_;
  std::string writing_;  // the directory whose part writer_ is writing, if any
  std::string restore_dir_;
  bool restore_tried_ = false;
  Status restored_;
};

}  // namespace sparrow::server
