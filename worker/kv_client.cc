#include "worker/kv_client.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

namespace sparrow::worker {

using cluster::NowMs;
using transport::Message;

KVClient::KVClient(cluster::Node* node, KVClientOptions options) : node_(node), options_(options) {
  timeout_thread_ = std::thread([this] { TimeoutLoop(); });
}

KVClient::~KVClient() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (timeout_thread_.joinable()) timeout_thread_.join();
}

void KVClient::Attach() {
  if (options_.pump_links) node_->van().PumpLinksFromCallers();
  node_->SetDeadHandler(
      [this](const std::vector<int>& dead, const std::string& why) { OnDead(dead, why); });
}

std::string KVClient::ServerName(int id) const {
  const wire::NodeInfo* n = node_->table().Find(id);
  if (!n) return "node " + std::to_string(id);
  return "server " + std::to_string(n->rank()) + " (node " + std::to_string(id) + " at " +
         n->address() + ")";
}

Ticket KVClient::NewGroup(int parts) {
  std::lock_guard<std::mutex> lock(mu_);
  const Ticket t = next_group_++;
  Group& g = groups_[t];
  g.remaining = parts;
  if (parts == 0) g.done = true;
  return t;
}

Ticket KVClient::Request(wire::Command cmd, std::vector<PushSlice> push,
                         std::vector<PullSlice> pull, bool end_of_step) {
  // Every slice, pushed ones first: tables, keys, widths, and where pulled rows go.
  std::vector<const std::vector<uint64_t>*> kp;
  std::vector<uint32_t> tables, widths;
  std::vector<float*> outs;
  std::vector<Keys> keys;
  std::vector<Values> vals;
  std::string bad;
  for (auto& s : push) {
    if (s.grads->size() != s.keys->size() * s.width) {
      bad = "push of " + std::to_string(s.keys->size()) + " keys with " +
            std::to_string(s.grads->size()) + " values at width " + std::to_string(s.width);
    }
    kp.push_back(s.keys.get());
    tables.push_back(s.table);
    widths.push_back(s.width);
    outs.push_back(nullptr);
    keys.push_back(std::move(s.keys));
    vals.push_back(std::move(s.grads));
  }
  const size_t pushed = push.size();
  for (auto& s : pull) {
    kp.push_back(s.keys.get());
    tables.push_back(s.table);
    widths.push_back(s.width);
    outs.push_back(s.out);
    keys.push_back(std::move(s.keys));
  }
  if (!bad.empty() || kp.size() > static_cast<size_t>(transport::kMaxSlices)) {
    if (bad.empty()) bad = "a request of " + std::to_string(kp.size()) + " tables";
    const Ticket t = NewGroup(0);
    std::lock_guard<std::mutex> lock(mu_);
    groups_[t].status = InvalidArgument(bad);
    return t;
  }
  const std::vector<ServerRoute> routes = RouteKeys(node_->table().servers, kp, widths, outs);
  const Ticket group = NewGroup(static_cast<int>(routes.size()));
  const bool clocked = end_of_step && node_->table().max_delay >= 0;
  // The push ends step `clock` where it lands; a CLOCK ends it at the other servers.
  const int64_t clock = end_of_step ? clock_.fetch_add(1) : clock_.load();
  auto request = std::make_shared<DataRequest>();
  request->cmd = cmd;
  request->clock = clock;
  request->clocked = clocked;
  request->pushed = pushed;
  request->tables = std::move(tables);
  request->keys = std::move(keys);
  request->vals = std::move(vals);
  for (const ServerRoute& route : routes) {
    Message msg = BuildMessage(request, route.server_id, route.ranges);
    uint64_t rid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rid = next_request_++;
      PendingPart p;
      p.group = group;
      p.server_id = route.server_id;
      p.ranges = route.ranges;
      p.first_pull = cmd == wire::PULL ? 0 : pushed;
      p.deadline_ms = NowMs() + options_.request_timeout_ms;
      p.request = request;
      p.retries_left = options_.retries;
      parts_[rid] = std::move(p);
      msg.header.set_oldest_pending(parts_.begin()->first);
    }
    msg.header.set_request_id(rid);
    Status st = node_->IsDead(route.server_id)
                    ? Unavailable(ServerName(route.server_id) + " is dead")
                    : SendTo(route.server_id, msg);
    if (!st.ok()) CompletePart(rid, st);
  }
  if (clocked) {
    std::vector<int> reached;
    for (const ServerRoute& r : routes) reached.push_back(r.server_id);
    std::sort(reached.begin(), reached.end());
    SendClock(clock + 1, reached);
  }
  return group;
}

Message KVClient::BuildMessage(const std::shared_ptr<const DataRequest>& request, int server_id,
                               const std::vector<KeyRange>& ranges) const {
  const DataRequest& q = *request;
  Message msg = Message::Make(q.cmd, node_->id(), server_id);
  msg.header.set_clock(q.clock);
  if (q.clocked) msg.header.set_flags(wire::END_OF_STEP);
  if (q.cmd == wire::PUSH_PULL) msg.header.set_num_push_slices(static_cast<uint32_t>(q.pushed));
  for (size_t i = 0; i < ranges.size(); ++i) {
    const KeyRange& r = ranges[i];
    zmq::message_t kf = transport::ZeroCopyFrame(q.keys[i], q.keys[i]->data() + r.offset,
                                                 r.count * sizeof(uint64_t));
    zmq::message_t vf;
    if (i < q.pushed) {
      vf = transport::ZeroCopyFrame(q.vals[i], q.vals[i]->data() + r.offset * r.width,
                                    r.count * r.width * sizeof(float));
    }
    msg.AddSlice(q.tables[i], r.width, r.count, std::move(kf), std::move(vf));
  }
  return msg;
}

Status KVClient::SendTo(int server_id, Message& msg) {
  Status st = node_->van().Send(server_id, msg);
  if (st.ok()) return st;
  // A link fails at once when its server is gone, before the scheduler says so.
  return Unavailable(ServerName(server_id) + " unreachable: " + st.message());
}

Ticket KVClient::Pull(std::vector<PullSlice> slices) {
  return Request(wire::PULL, {}, std::move(slices), false);
}

Ticket KVClient::Push(std::vector<PushSlice> slices, bool end_of_step) {
  return Request(wire::PUSH, std::move(slices), {}, end_of_step);
}

Ticket KVClient::PushPull(std::vector<PushSlice> push, std::vector<PullSlice> pull,
                          bool end_of_step) {
  if (pull.empty()) return Push(std::move(push), end_of_step);
  if (push.empty() && !end_of_step) return Pull(std::move(pull));
  return Request(wire::PUSH_PULL, std::move(push), std::move(pull), end_of_step);
}

Ticket KVClient::Pull(uint32_t table, Keys keys, uint32_t width, float* out) {
  return Pull(std::vector<PullSlice>{{table, std::move(keys), width, out}});
}

Ticket KVClient::Push(uint32_t table, Keys keys, Values grads, uint32_t width) {
  return Push(std::vector<PushSlice>{{table, std::move(keys), std::move(grads), width}},
              /*end_of_step=*/false);
}

Status KVClient::Wait(Ticket t) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = groups_.find(t);
  if (it == groups_.end()) return InvalidArgument("unknown or already waited ticket");
  transport::Van& van = node_->van();
  while (!it->second.done) {
    if (!van.pumps_links() || pumping_) {
      cv_.wait(lock);
      continue;
    }
    // This thread reads the replies (see Van::Pump), in slices short enough to notice a
    // request failed by the timeout thread or a dead server soon.
    pumping_ = true;
    pumper_ = std::this_thread::get_id();
    lock.unlock();
    van.Pump(/*timeout_ms=*/20);
    lock.lock();
    pumping_ = false;
    cv_.notify_all();  // another waiter may have to take over the pumping
  }
  Status st = it->second.status;
  groups_.erase(it);
  return st;
}

void KVClient::FinishPartLocked(Ticket group, const Status& st) {
  Group& g = groups_[group];
  if (!st.ok() && g.status.ok()) g.status = st;
  if (--g.remaining == 0) g.done = true;
}

bool KVClient::ClaimPart(uint64_t request_id, PendingPart* part) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(request_id);
  if (it == parts_.end()) return false;  // finished, failed or timed out already
  *part = it->second;
  parts_.erase(it);
  return true;
}

void KVClient::FinishPart(Ticket group, const Status& st) {
  bool wake_pump;
  {
    std::lock_guard<std::mutex> lock(mu_);
    FinishPartLocked(group, st);
    // A part finished by another thread (a reply over ZeroMQ on the receive thread, a
    // timeout, a dead server) may be the one the pumping waiter waits for: it sleeps in
    // Van::Pump, not on cv_.
    wake_pump = pumping_ && pumper_ != std::this_thread::get_id();
  }
  cv_.notify_all();
  if (wake_pump) node_->van().WakePump();
}

void KVClient::CompletePart(uint64_t request_id, const Status& st) {
  PendingPart part;
  if (ClaimPart(request_id, &part)) FinishPart(part.group, st);
}

void KVClient::Handle(Message&& msg) {
  const wire::Header& h = msg.header;
  // Claiming the part first means a timeout can no longer fail it: the caller's Wait
  // returns only after the reply's values are in its buffer.
  PendingPart part;
  if (!ClaimPart(h.request_id(), &part)) return;  // timed out or failed earlier
  Status st;
  switch (h.command()) {
    case wire::ACK:
      if (part.reply_control) *part.reply_control = h.control();
      break;
    case wire::PULL_REPLY: {
      const wire::NodeInfo* s = node_->table().Find(h.sender());
      st = ValidateDataFrames(msg, s ? s->key_begin() : 0, s ? s->key_end() : ~0ull);
      const size_t pulled = part.ranges.size() - part.first_pull;
      if (st.ok() && static_cast<size_t>(h.slices_size()) != pulled) {
        st = InvalidArgument("reply has " + std::to_string(h.slices_size()) +
                             " slices, asked for " + std::to_string(pulled));
      }
      for (size_t i = 0; st.ok() && i < pulled; ++i) {
        const KeyRange& r = part.ranges[part.first_pull + i];
        const wire::Slice& sl = h.slices(static_cast<int>(i));
        if (sl.num_keys() != r.count || sl.value_width() != r.width) {
          st = InvalidArgument("reply has " + std::to_string(sl.num_keys()) + " keys of width " +
                               std::to_string(sl.value_width()) + ", asked for " +
                               std::to_string(r.count) + " of width " + std::to_string(r.width));
        } else if (r.count > 0) {
          std::memcpy(r.out + r.offset * r.width, msg.values(i).data(),
                      r.count * r.width * sizeof(float));
        }
      }
      break;
    }
    case wire::ERROR:
      st = transport::ErrorOf(h, ServerName(h.sender()));
      break;
    default:
      st = Internal(std::string("unexpected ") + transport::CommandName(h.command()) + " from " +
                    ServerName(h.sender()));
  }
  FinishPart(part.group, st);
}

void KVClient::OnDead(const std::vector<int>& dead, const std::string& why) {
  std::vector<uint64_t> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [rid, p] : parts_) {
      const bool all = std::find(dead.begin(), dead.end(), cluster::kSchedulerId) != dead.end();
      if (all || std::find(dead.begin(), dead.end(), p.server_id) != dead.end()) {
        failed.push_back(rid);
      }
    }
  }
  for (uint64_t rid : failed) {
    int sid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = parts_.find(rid);
      if (it == parts_.end()) continue;
      sid = it->second.server_id;
    }
    CompletePart(rid, Unavailable(ServerName(sid) + " declared dead: " + why));
  }
}

void KVClient::TimeoutLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      if (stop_cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_; })) return;
    }
    const int64_t now = NowMs();
    std::vector<std::pair<uint64_t, int>> late;
    std::vector<std::pair<uint64_t, Message>> again;  // retries: (request id, message)
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [rid, p] : parts_) {
        if (now <= p.deadline_ms) continue;
        if (p.request && p.retries_left > 0 && !node_->IsDead(p.server_id)) {
          --p.retries_left;
          p.deadline_ms = now + options_.request_timeout_ms;
          Message m = BuildMessage(p.request, p.server_id, p.ranges);
          m.header.set_request_id(rid);
          m.header.set_oldest_pending(parts_.begin()->first);
          again.emplace_back(rid, std::move(m));
        } else {
          late.emplace_back(rid, p.server_id);
        }
      }
    }
    for (auto& [rid, m] : again) {
      const int sid = m.header.receiver();
      LOG(WARNING) << "no reply from " << ServerName(sid) << " within "
                   << options_.request_timeout_ms << " ms; sending request " << rid << " again";
      retries_sent_.fetch_add(1);
      Status st = SendTo(sid, m);
      if (!st.ok()) CompletePart(rid, st);
    }
    for (const auto& [rid, sid] : late) {
      CompletePart(rid, DeadlineExceeded("no reply from " + ServerName(sid) + " within " +
                                         std::to_string(options_.request_timeout_ms) + " ms, " +
                                         std::to_string(options_.retries + 1) + " time(s)"));
    }
  }
}

void KVClient::SendClock(int64_t clock, const std::vector<int>& skip) {
  for (const auto& s : node_->table().servers) {
    if (std::binary_search(skip.begin(), skip.end(), s.id())) continue;
    Message m = Message::Make(wire::CLOCK, node_->id(), s.id());
    m.header.set_clock(clock);
    (void)node_->van().Send(s.id(), m);
  }
}

void KVClient::Tick() {
  // Training threads tick concurrently; servers keep the largest clock they hear.
  const int64_t next = clock_.fetch_add(1) + 1;
  if (node_->table().max_delay < 0) return;  // asynchronous: no server waits on clocks
  SendClock(next, {});
}

void KVClient::FinishClock() {
  SendClock(std::numeric_limits<int64_t>::max(), {});
}

Status KVClient::ControlToAllServers(wire::Command cmd, wire::Control control,
                                     std::vector<wire::Control>* replies) {
  const auto& servers = node_->table().servers;
  replies->assign(servers.size(), wire::Control());
  const Ticket t = NewGroup(static_cast<int>(servers.size()));
  for (size_t i = 0; i < servers.size(); ++i) {
    Message msg = Message::Make(cmd, node_->id(), servers[i].id());
    *msg.header.mutable_control() = control;
    uint64_t rid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rid = next_request_++;
      PendingPart p;
      p.group = t;
      p.server_id = servers[i].id();
      p.first_pull = 0;
      p.deadline_ms = NowMs() + options_.request_timeout_ms;
      p.reply_control = &(*replies)[i];
      parts_[rid] = p;
    }
    msg.header.set_request_id(rid);
    Status st = SendTo(servers[i].id(), msg);
    if (!st.ok()) CompletePart(rid, st);
  }
  return Wait(t);
}

Status KVClient::CreateTable(const wire::TableSpec& spec) {
  wire::Control c;
  *c.mutable_table() = spec;
  std::vector<wire::Control> replies;
  return ControlToAllServers(wire::CREATE_TABLE, c, &replies);
}

Status KVClient::Save(const std::string& path) {
  wire::Control c;
  c.set_path(path);
  std::vector<wire::Control> replies;
  return ControlToAllServers(wire::SAVE, c, &replies);
}

Status KVClient::Checkpoint(const std::string& dir, const std::vector<uint32_t>& tables) {
  wire::Control c;
  c.set_path(dir);
  for (uint32_t t : tables) c.add_table_ids(t);
  std::vector<wire::Control> replies;
  return ControlToAllServers(wire::CHECKPOINT, c, &replies);
}

Result<bool> KVClient::CheckpointWritten(const std::string& dir) {
  wire::Control c;
  c.set_path(dir);
  std::vector<wire::Control> replies;
  SPARROW_RETURN_IF_ERROR(ControlToAllServers(wire::CHECKPOINT_STATUS, c, &replies));
  for (const auto& r : replies) {
    if (r.pending()) return false;
  }
  return true;
}

Result<std::vector<wire::TableStats>> KVClient::Stats() {
  std::vector<wire::Control> replies;
  SPARROW_RETURN_IF_ERROR(ControlToAllServers(wire::STATS, wire::Control(), &replies));
  std::map<uint32_t, wire::TableStats> sum;
  for (const auto& r : replies) {
    for (const auto& s : r.stats()) {
      auto& t = sum[s.table()];
      t.set_table(s.table());
      t.set_keys(t.keys() + s.keys());
      t.set_bytes(t.bytes() + s.bytes());
      t.set_capacity(t.capacity() + s.capacity());
    }
  }
  std::vector<wire::TableStats> out;
  for (auto& [id, s] : sum) out.push_back(s);
  return out;
}

}  // namespace sparrow::worker
