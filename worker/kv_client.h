// KVClient: a worker's view of the parameter servers.
//
// Pull(keys) and Push(keys, grads) take keys sorted and unique, cut them by the servers'
// key ranges (one binary search per server), and send every part without copying: the
// frames reference the caller's buffers, kept alive by shared_ptr until ZeroMQ has sent
// them. A request may span several tables (slices): a server receives all of its share
// in one message, so a training step costs one pull and one push per server whatever
// the model. Any number of requests may be in flight. Each returns a ticket; Wait(ticket)
// blocks until every server answered and returns OK or the first error. A server that the
// scheduler declares dead, or that does not answer within the timeout, fails its pending
// requests with an error naming it.
//
// The consistency clock: Tick() ends a minibatch (CLOCK to every server), or a push with
// end_of_step does (flagged on the push where a server gets one, so the common case sends
// no extra message); pulls carry the current clock, so servers hold a pull that runs too
// far ahead of the slowest worker.
//
// Replies are read by the node's receive thread, or, when the client pumps the node's
// links (the default; see transport::Van::Pump), by a thread in Wait(): a request's reply
// is then read only while some thread waits, which is why requests complete through
// tickets and Wait() rather than callbacks.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/node.h"
#include "worker/key_routing.h"

namespace sparrow::worker {

using Keys = std::shared_ptr<const std::vector<uint64_t>>;
using Values = std::shared_ptr<const std::vector<float>>;
using Ticket = uint64_t;

// One table's part of a pull: out[0 .. keys->size() * width) receives the rows; it must
// stay valid, and untouched by the caller, until the ticket completes.
struct PullSlice {
  uint32_t table;
  Keys keys;
  uint32_t width;
  float* out;
};

// One table's part of a push: grads->size() == keys->size() * width.
struct PushSlice {
  uint32_t table;
  Keys keys;
  Values grads;
  uint32_t width;
};

struct KVClientOptions {
  // A server silent this long about a data request has it sent again (the same request:
  // servers apply a push once however often it arrives), up to `retries` times; then the
  // request fails.
  int request_timeout_ms = 60000;
  int retries = 2;
  // Replies on links are read by the thread that waits for them (transport::Van::Pump),
  // not by the node's receive thread.
  bool pump_links = true;
};

class KVClient {
 public:
  // `node` must outlive the client, and have no other handler of link messages; call
  // Attach() before node->Start().
  KVClient(cluster::Node* node, KVClientOptions options = {});
  ~KVClient();
  void Attach();
  // Replies from servers (the node's handler).
  void Handle(transport::Message&& msg);

  // Creates `spec` on every server (idempotent for the same spec) and waits.
  Status CreateTable(const wire::TableSpec& spec);

  // Reads every slice's rows (at most transport::kMaxSlices slices). Widths must match the
  // tables.
  Ticket Pull(std::vector<PullSlice> slices);
  // Sends gradients. With end_of_step the push also ends this minibatch, as Tick() would.
  Ticket Push(std::vector<PushSlice> slices, bool end_of_step = false);
  // Pushes `push` and pulls `pull` in one message per server (one round trip: a training
  // step's gradients carry the keys of a later step). With end_of_step the push ends this
  // minibatch, as Tick() would, and the pull counts as made after it. The ticket completes
  // when every server has applied its share of the push and answered the pull.
  Ticket PushPull(std::vector<PushSlice> push, std::vector<PullSlice> pull, bool end_of_step);
  // One-table forms of Pull and Push.
  Ticket Pull(uint32_t table, Keys keys, uint32_t width, float* out);
  Ticket Push(uint32_t table, Keys keys, Values grads, uint32_t width);
  // Blocks until the ticket completes; returns its status. Each ticket may be waited once.
  Status Wait(Ticket t);

  // Ends minibatch `clock()`: sends CLOCK(clock()+1) to every server, then advances.
  void Tick();
  // This worker is done: servers stop waiting for it.
  void FinishClock();
  int64_t clock() const { return clock_.load(); }
  // Data requests sent again after a timeout, so far.
  uint64_t retries_sent() const { return retries_sent_.load(); }

  // Every server writes its rows to `path`.part-<rank> (see wire SAVE) and the call waits.
  Status Save(const std::string& path);
  // Every server copies its part of a checkpoint of `tables` and starts writing it into
  // directory `dir` (see wire CHECKPOINT; checkpoint/checkpoint.h); the call returns once
  // every copy is taken: pushes after it are not in the checkpoint.
  Status Checkpoint(const std::string& dir, const std::vector<uint32_t>& tables);
  // Whether every server's part of the checkpoint in `dir` is on disk (an error if a
  // server failed to write it).
  Result<bool> CheckpointWritten(const std::string& dir);

  // Table sizes summed over servers, by table id.
  Result<std::vector<wire::TableStats>> Stats();

 private:
  struct Group {  // one user request, split over servers
    int remaining = 0;
    Status status;
    bool done = false;
  };
  // A data request's contents, shared by its parts (one per server) until all complete.
  struct DataRequest {
    wire::Command cmd;
    int64_t clock;
    bool clocked;   // the message ends step `clock` (END_OF_STEP)
    size_t pushed;  // slices [0, pushed) carry values
    std::vector<uint32_t> tables;
    std::vector<Keys> keys;
    std::vector<Values> vals;  // of the pushed slices
  };
  struct PendingPart {  // one server's share of a group, awaiting its reply
    Ticket group = 0;
    int server_id = -1;
    std::vector<KeyRange> ranges;  // one per slice
    size_t first_pull = 0;         // ranges[first_pull..] are answered by a PULL_REPLY
    int64_t deadline_ms = 0;
    wire::Control* reply_control = nullptr;  // for STATS / control replies
    // Data requests: what the message was built from, to build it again for a retry.
    std::shared_ptr<const DataRequest> request;
    int retries_left = 0;
  };
  // The message of `request` for server `server_id`: ranges[i] of slice i. Its frames
  // reference the request's arrays, which `request` keeps alive.
  transport::Message BuildMessage(const std::shared_ptr<const DataRequest>& request, int server_id,
                                  const std::vector<KeyRange>& ranges) const;
  Ticket NewGroup(int parts);
  // Sends a PUSH, PULL or PUSH_PULL of `push` then `pull` slices (one may be empty), one
  // message per server that owns any of their keys.
  Ticket Request(wire::Command cmd, std::vector<PushSlice> push, std::vector<PullSlice> pull,
                 bool end_of_step);
  // Sends to a server; an error names the server.
  Status SendTo(int server_id, transport::Message& msg);
  // CLOCK(clock) to every server not in `skip` (sorted server ids).
  void SendClock(int64_t clock, const std::vector<int>& skip);
  void OnDead(const std::vector<int>& dead, const std::string& why);
  // Takes a part out of the pending set; false if it was already finished.
  bool ClaimPart(uint64_t request_id, PendingPart* part);
  // Counts a claimed part of `group` as done with `st`.
  void FinishPart(Ticket group, const Status& st);
  void FinishPartLocked(Ticket group, const Status& st);
  void CompletePart(uint64_t request_id, const Status& st);  // ClaimPart + FinishPart
  void TimeoutLoop();
  std::string ServerName(int id) const;
  Status ControlToAllServers(wire::Command cmd, wire::Control control,
                             std::vector<wire::Control>* replies);

  cluster::Node* node_;
  KVClientOptions options_;
  std::atomic<int64_t> clock_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_group_ = 1;
  uint64_t next_request_ = 1;
  std::map<Ticket, Group> groups_;
  std::atomic<uint64_t> retries_sent_{0};
  std::map<uint64_t, PendingPart> parts_;  // by request id
  bool pumping_ = false;                   // a thread in Wait() is reading replies (Van::Pump)
  std::thread::id pumper_;                 // which one, while pumping_

  std::thread timeout_thread_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;  // wakes the timeout thread at once on destruction
  bool stop_ = false;                // guarded by stop_mu_
};

}  // namespace sparrow::worker
