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
  stop_.store(true);
  if (timeout_thread_.joinable()) timeout_thread_.join();
}

void KVClient::Attach() {
  node_->SetDeadHandler(
      [this](const std::vector<int>& dead, const std::string& why) { OnDead(dead, why); });
}

std::string KVClient::ServerName(int id) const {
  const wire::NodeInfo* n = node_->table().Find(id);
  if (!n) return "node " + std::to_string(id);
  return "server " + std::to_string(n->rank()) + " (node " + std::to_string(id) + " at " +
         n->address() + ")";
}

Ticket KVClient::NewGroup(int parts, Callback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  const Ticket t = next_group_++;
  Group& g = groups_[t];
  g.remaining = parts;
  g.cb = std::move(cb);
  if (parts == 0) g.done = true;
  return t;
}

void KVClient::SendParts(wire::Command cmd, uint32_t table, const Keys& keys, const Values* vals,
                         uint32_t width, float* out, Ticket group) {
  const auto& servers = node_->table().servers;
  const uint64_t* k = keys->data();
  const size_t n = keys->size();
  size_t begin = 0;
  for (const auto& s : servers) {
    if (begin >= n) break;
    const size_t end = std::upper_bound(k + begin, k + n, s.key_end()) - k;  // keys <= key_end
    const size_t count = end - begin;
    if (count == 0) continue;
    Message msg;
    msg.header.set_command(cmd);
    msg.header.set_sender(node_->id());
    msg.header.set_receiver(s.id());
    msg.header.set_table(table);
    msg.header.set_clock(clock_.load());
    msg.header.set_num_keys(count);
    msg.header.set_value_width(width);
    msg.frames.push_back(transport::ZeroCopyFrame(keys, k + begin, count * sizeof(uint64_t)));
    if (vals != nullptr) {
      const float* v = (*vals)->data() + begin * width;
      msg.frames.push_back(transport::ZeroCopyFrame(*vals, v, count * width * sizeof(float)));
    }
    uint64_t rid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rid = next_request_++;
      parts_[rid] =
          Part{group, s.id(), begin, count, width, out, NowMs() + options_.request_timeout_ms};
    }
    msg.header.set_request_id(rid);
    Status st = node_->IsDead(s.id()) ? Unavailable(ServerName(s.id()) + " is dead")
                                      : node_->van().Send(s.id(), msg);
    if (!st.ok()) CompletePart(rid, st);
    begin = end;
  }
}

namespace {
int CountParts(const cluster::NodeTable& t, const std::vector<uint64_t>& keys) {
  int parts = 0;
  size_t begin = 0;
  for (const auto& s : t.servers) {
    if (begin >= keys.size()) break;
    const size_t end =
        std::upper_bound(keys.begin() + begin, keys.end(), s.key_end()) - keys.begin();
    if (end > begin) ++parts;
    begin = end;
  }
  return parts;
}
}  // namespace

Ticket KVClient::Pull(uint32_t table, Keys keys, uint32_t width, float* out, Callback cb) {
  const Ticket t = NewGroup(CountParts(node_->table(), *keys), std::move(cb));
  SendParts(wire::PULL, table, keys, nullptr, width, out, t);
  return t;
}

Ticket KVClient::Push(uint32_t table, Keys keys, Values grads, uint32_t width, Callback cb) {
  if (grads->size() != keys->size() * width) {
    const Ticket t = NewGroup(0, nullptr);
    std::lock_guard<std::mutex> lock(mu_);
    groups_[t].status = InvalidArgument("push of " + std::to_string(keys->size()) + " keys with " +
                                        std::to_string(grads->size()) + " values at width " +
                                        std::to_string(width));
    if (cb) cb(groups_[t].status);
    return t;
  }
  const Ticket t = NewGroup(CountParts(node_->table(), *keys), std::move(cb));
  SendParts(wire::PUSH, table, keys, &grads, width, nullptr, t);
  return t;
}

Status KVClient::Wait(Ticket t) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = groups_.find(t);
  if (it == groups_.end()) return InvalidArgument("unknown or already waited ticket");
  cv_.wait(lock, [&] { return it->second.done; });
  Status st = it->second.status;
  groups_.erase(it);
  return st;
}

void KVClient::FinishPartLocked(Ticket group, const Status& st, std::vector<Callback>* cbs) {
  Group& g = groups_[group];
  if (!st.ok() && g.status.ok()) g.status = st;
  if (--g.remaining == 0) {
    g.done = true;
    if (g.cb) cbs->push_back([cb = g.cb, s = g.status](const Status&) { cb(s); });
  }
}

bool KVClient::ClaimPart(uint64_t request_id, Part* part) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parts_.find(request_id);
  if (it == parts_.end()) return false;  // finished, failed or timed out already
  *part = it->second;
  parts_.erase(it);
  return true;
}

void KVClient::FinishPart(Ticket group, const Status& st) {
  std::vector<Callback> cbs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    FinishPartLocked(group, st, &cbs);
  }
  cv_.notify_all();
  for (auto& cb : cbs) cb(Status::Ok());
}

void KVClient::CompletePart(uint64_t request_id, const Status& st) {
  Part part;
  if (ClaimPart(request_id, &part)) FinishPart(part.group, st);
}

void KVClient::Handle(Message&& msg) {
  const wire::Header& h = msg.header;
  // Claiming the part first means a timeout can no longer fail it: the caller's Wait
  // returns only after the reply's values are in its buffer.
  Part part;
  if (!ClaimPart(h.request_id(), &part)) return;  // timed out or failed earlier
  Status st;
  switch (h.command()) {
    case wire::ACK:
      if (part.reply_control) *part.reply_control = h.control();
      break;
    case wire::PULL_REPLY: {
      const wire::NodeInfo* s = node_->table().Find(h.sender());
      st = ValidateDataFrames(msg, s ? s->key_begin() : 0, s ? s->key_end() : ~0ull);
      if (st.ok() && (h.num_keys() != part.count || h.value_width() != part.width)) {
        st =
            InvalidArgument("reply has " + std::to_string(h.num_keys()) + " keys of width " +
                            std::to_string(h.value_width()) + ", asked for " +
                            std::to_string(part.count) + " of width " + std::to_string(part.width));
      }
      if (st.ok() && part.count > 0) {
        std::memcpy(part.out + part.offset * part.width, msg.values().data(),
                    part.count * part.width * sizeof(float));
      }
      break;
    }
    case wire::ERROR:
      st = Status(Code::kInvalidArgument, ServerName(h.sender()) + ": " + h.error());
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
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t now = NowMs();
    std::vector<std::pair<uint64_t, int>> late;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [rid, p] : parts_) {
        if (now > p.deadline_ms) late.emplace_back(rid, p.server_id);
      }
    }
    for (const auto& [rid, sid] : late) {
      CompletePart(rid, DeadlineExceeded("no reply from " + ServerName(sid) + " within " +
                                         std::to_string(options_.request_timeout_ms) + " ms"));
    }
  }
}

void KVClient::Tick() {
  // Training threads tick concurrently; servers keep the largest clock they hear.
  const int64_t next = clock_.fetch_add(1) + 1;
  if (node_->table().max_delay < 0) return;  // asynchronous: no server waits on clocks
  for (const auto& s : node_->table().servers) {
    Message m;
    m.header.set_command(wire::CLOCK);
    m.header.set_sender(node_->id());
    m.header.set_receiver(s.id());
    m.header.set_clock(next);
    (void)node_->van().Send(s.id(), m);
  }
}

void KVClient::FinishClock() {
  for (const auto& s : node_->table().servers) {
    Message m;
    m.header.set_command(wire::CLOCK);
    m.header.set_sender(node_->id());
    m.header.set_receiver(s.id());
    m.header.set_clock(std::numeric_limits<int64_t>::max());
    (void)node_->van().Send(s.id(), m);
  }
}

Status KVClient::ControlToAllServers(wire::Command cmd, wire::Control control,
                                     std::vector<wire::Control>* replies) {
  const auto& servers = node_->table().servers;
  replies->assign(servers.size(), wire::Control());
  const Ticket t = NewGroup(static_cast<int>(servers.size()), nullptr);
  for (size_t i = 0; i < servers.size(); ++i) {
    Message msg;
    msg.header.set_command(cmd);
    msg.header.set_sender(node_->id());
    msg.header.set_receiver(servers[i].id());
    *msg.header.mutable_control() = control;
    uint64_t rid;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rid = next_request_++;
      Part p{t, servers[i].id(), 0, 0, 0, nullptr, NowMs() + options_.request_timeout_ms};
      p.reply_control = &(*replies)[i];
      parts_[rid] = p;
    }
    msg.header.set_request_id(rid);
    Status st = node_->van().Send(servers[i].id(), msg);
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
