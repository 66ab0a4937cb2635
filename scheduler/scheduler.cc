#include "scheduler/scheduler.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>

#include "cluster/node.h"
#include "cluster/node_table.h"

namespace sparrow::scheduler {

using cluster::NowMs;

Scheduler::Scheduler(SchedulerOptions options) : options_(std::move(options)) {}

Result<std::string> Scheduler::Bind() {
  if (!options_.curve_keys.empty()) {
    SPARROW_ASSIGN_OR_RETURN(transport::CurveKeys keys,
                             transport::ReadCurveKeys(options_.curve_keys));
    SPARROW_RETURN_IF_ERROR(van_.EnableCurve(keys));
  }
  return van_.Bind(options_.bind);
}

std::string Scheduler::Describe(const Member& m) const {
  return wire::Role_Name(m.info.role()) + " " + std::to_string(m.info.rank()) + " (node " +
         std::to_string(m.info.id()) + ", pid " + std::to_string(m.info.pid()) + " on " +
         m.info.hostname() + ", " + m.info.address() + ")";
}

void Scheduler::Reply(int node, wire::Command cmd, uint64_t request_id, const std::string& error) {
  transport::Message msg = transport::Message::Make(cmd, cluster::kSchedulerId, node, request_id);
  if (cmd == wire::ERROR) {
    msg.header.set_error(error);
    msg.header.set_error_code(static_cast<int32_t>(Code::kFailedPrecondition));
  }
  (void)van_.Send(node, msg);
}

void Scheduler::Broadcast(wire::Command cmd, const wire::Control& control) {
  for (auto& [id, m] : members_) {
    if (m.dead) continue;
    transport::Message msg = transport::Message::Make(cmd, cluster::kSchedulerId, id);
    *msg.header.mutable_control() = control;
    (void)van_.Send(id, msg);
  }
}

void Scheduler::OnReject(const wire::Header& header, const Status& why) {
  // A node that speaks another version cannot be numbered; tell it why if we can reach it.
  std::lock_guard<std::mutex> lock(mu_);
  if (header.command() != wire::REGISTER || header.control().node().address().empty()) return;
  const int peer = next_temp_peer_--;
  if (van_.Connect(peer, header.control().node().address()).ok()) {
    Reply(peer, wire::ERROR, header.request_id(), why.message());
  }
}

void Scheduler::OnMessage(transport::Message&& msg) {
  const wire::Header& h = msg.header;
  std::lock_guard<std::mutex> lock(mu_);
  if (h.command() == wire::REGISTER) {
    OnRegister(h);
    return;
  }
  auto it = members_.find(h.sender());
  if (it == members_.end()) {
    LOG(WARNING) << "ignoring " << transport::CommandName(h.command()) << " from unknown node "
                 << h.sender();
    return;
  }
  Member& m = it->second;
  if (m.dead) return;  // a node declared dead stays dead: its peers have moved on
  m.last_seen_ms = NowMs();
  switch (h.command()) {
    case wire::HEARTBEAT:
      Reply(h.sender(), wire::ACK, h.request_id());
      break;
    case wire::BARRIER:
      OnBarrier(h);
      break;
    case wire::FINISH:
      OnFinish(h);
      break;
    default:
      LOG(WARNING) << "scheduler got unexpected " << transport::CommandName(h.command()) << " from "
                   << Describe(m);
      Reply(h.sender(), wire::ERROR, h.request_id(),
            std::string("scheduler does not handle ") + transport::CommandName(h.command()));
  }
}

void Scheduler::OnRegister(const wire::Header& h) {
  const wire::NodeInfo& n = h.control().node();
  const int want_s = options_.num_servers, want_w = options_.num_workers;
  int have_s = 0, have_w = 0;
  for (const auto& p : pending_) (p.role() == wire::SERVER ? have_s : have_w)++;
  std::string error;
  if (assigned_) {
    error = "cluster is already complete";
  } else if (n.role() == wire::SERVER && have_s >= want_s) {
    error = "cluster expects only " + std::to_string(want_s) + " server(s)";
  } else if (n.role() == wire::WORKER && have_w >= want_w) {
    error = "cluster expects only " + std::to_string(want_w) + " worker(s)";
  } else if (n.role() != wire::SERVER && n.role() != wire::WORKER) {
    error = "only servers and workers register";
  }
  if (!error.empty()) {
    LOG(WARNING) << "refusing registration from " << n.address() << ": " << error;
    const int peer = next_temp_peer_--;
    if (van_.Connect(peer, n.address()).ok()) Reply(peer, wire::ERROR, h.request_id(), error);
    return;
  }
  pending_.push_back(n);
  LOG(INFO) << "registered " << wire::Role_Name(n.role()) << " at " << n.address() << " ("
            << pending_.size() << "/" << want_s + want_w << ")";
  if (static_cast<int>(pending_.size()) == want_s + want_w) AssignAndBroadcast();
}

void Scheduler::AssignAndBroadcast() {
  int next_id = 1, server_rank = 0, worker_rank = 0;
  // Servers first, then workers: those that asked for a rank in its order, then the rest
  // in order of registration.
  std::stable_sort(pending_.begin(), pending_.end(),
                   [](const wire::NodeInfo& a, const wire::NodeInfo& b) {
                     auto key = [](const wire::NodeInfo& n) {
                       return n.rank_hint() > 0 ? n.rank_hint() : INT32_MAX;
                     };
                     return key(a) < key(b);
                   });
  for (wire::Role role : {wire::SERVER, wire::WORKER}) {
    for (auto& n : pending_) {
      if (n.role() != role) continue;
      n.set_id(next_id++);
      if (role == wire::SERVER) {
        uint64_t b, e;
        cluster::SplitKeySpace(options_.num_servers, server_rank, &b, &e);
        n.set_rank(server_rank++);
        n.set_key_begin(b);
        n.set_key_end(e);
      } else {
        n.set_rank(worker_rank++);
      }
      Member m;
      m.info = n;
      m.last_seen_ms = NowMs();
      members_[n.id()] = m;
    }
  }
  wire::Control table;
  table.set_max_delay(options_.max_delay);
  for (const auto& [id, m] : members_) *table.add_nodes() = m.info;
  for (const auto& [id, m] : members_) {
    Status st = van_.Connect(id, m.info.address());
    if (!st.ok()) LOG(ERROR) << st.message();
  }
  Broadcast(wire::NODE_TABLE, table);
  assigned_ = true;
  pending_.clear();
  LOG(INFO) << "cluster complete: " << options_.num_servers << " server(s), "
            << options_.num_workers << " worker(s), max_delay " << options_.max_delay;
}

bool Scheduler::InGroup(const Member& m, wire::Role group) const {
  if (m.dead) return false;
  if (m.info.role() == wire::WORKER && m.finished) return false;
  return group == wire::ROLE_UNSPECIFIED || m.info.role() == group;
}

void Scheduler::OnBarrier(const wire::Header& h) {
  const wire::Control& c = h.control();
  barriers_[c.barrier_group()][h.sender()] = {
      h.request_id(), std::vector<double>(c.sums().begin(), c.sums().end()),
      std::vector<double>(c.maxima().begin(), c.maxima().end())};
  MaybeReleaseBarriers();
}

void Scheduler::MaybeReleaseBarriers() {
  for (auto& [group, entered] : barriers_) {
    if (entered.empty()) continue;
    bool all = true;
    for (const auto& [id, m] : members_) {
      if (InGroup(m, static_cast<wire::Role>(group)) && !entered.count(id)) all = false;
    }
    if (!all) continue;
    // The reductions, in node-id order (the map's): every node gets the same bits. A node
    // that passed a different number of values gets none, and its AllReduce fails.
    wire::Control reduced;
    const Entered& first = entered.begin()->second;
    bool same_shape = true;
    for (const auto& [id, e] : entered) {
      same_shape = same_shape && e.sums.size() == first.sums.size() &&
                   e.maxima.size() == first.maxima.size();
    }
    if (same_shape) {
      for (size_t i = 0; i < first.sums.size(); ++i) {
        double sum = 0;
        for (const auto& [id, e] : entered) sum += e.sums[i];
        reduced.add_sums(sum);
      }
      for (size_t i = 0; i < first.maxima.size(); ++i) {
        double max = first.maxima[i];
        for (const auto& [id, e] : entered) max = std::max(max, e.maxima[i]);
        reduced.add_maxima(max);
      }
    }
    for (const auto& [id, e] : entered) {
      if (members_[id].dead) continue;
      transport::Message msg =
          transport::Message::Make(wire::BARRIER_RELEASE, cluster::kSchedulerId, id, e.seq);
      *msg.header.mutable_control() = reduced;
      (void)van_.Send(id, msg);
    }
    entered.clear();
  }
}

void Scheduler::OnFinish(const wire::Header& h) {
  Member& m = members_[h.sender()];
  m.finished = true;
  if (h.control().failed()) {
    failures_.push_back(Describe(m) + " failed: " + h.control().reason());
    LOG(ERROR) << failures_.back();
  } else {
    LOG(INFO) << Describe(m) << " finished";
  }
  MaybeReleaseBarriers();
  bool all_done = true;
  for (const auto& [id, w] : members_) {
    if (w.info.role() == wire::WORKER && !w.dead && !w.finished) all_done = false;
  }
  if (all_done) {
    ShutdownLocked(!failures_.empty(), failures_.empty() ? "" : failures_.front());
  }
}

void Scheduler::CheckHeartbeats() {
  const int64_t now = NowMs();
  std::vector<int> dead;
  std::string reason;
  bool server_died = false, workers_left = false;
  for (auto& [id, m] : members_) {
    if (m.dead || (m.info.role() == wire::WORKER && m.finished)) continue;
    if (now - m.last_seen_ms > options_.heartbeat_timeout_ms) {
      m.dead = true;
      dead.push_back(id);
      const std::string what = Describe(m) + " silent for " + std::to_string(now - m.last_seen_ms) +
                               " ms, declared dead";
      LOG(ERROR) << what;
      failures_.push_back(what);
      reason += (reason.empty() ? "" : "; ") + what;
      if (m.info.role() == wire::SERVER) server_died = true;
    }
  }
  if (dead.empty()) return;
  wire::Control c;
  for (int id : dead) c.add_dead_nodes(id);
  c.set_reason(reason);
  Broadcast(wire::NODE_DEAD, c);
  for (const auto& [id, m] : members_) {
    if (m.info.role() == wire::WORKER && !m.dead && !m.finished) workers_left = true;
  }
  if (server_died) {
    ShutdownLocked(true, reason + " (its key range is lost)");
  } else if (!workers_left) {
    ShutdownLocked(true, reason);
  } else {
    MaybeReleaseBarriers();
  }
}

void Scheduler::ShutdownLocked(bool failed, const std::string& reason) {
  if (done_) return;
  wire::Control c;
  c.set_failed(failed);
  c.set_reason(reason);
  Broadcast(wire::SHUTDOWN, c);
  done_ = true;
  std::string all;
  for (const auto& f : failures_) all += (all.empty() ? "" : "; ") + f;
  if (failed) result_ = Aborted(all.empty() ? reason : all);
  cv_.notify_all();
}

void Scheduler::RequestShutdown(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.push_back(reason);
  ShutdownLocked(true, reason);
}

void Scheduler::ProcessExited(int pid, const std::string& label, const std::string& how,
                              bool signaled) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    exits_.push_back({pid, label, how, NowMs() + (signaled ? 0 : kExitGraceMs)});
    // Now, not on Run()'s next turn: its peers' complaints about it are on their way.
    if (signaled) CheckExits();
  }
  cv_.notify_all();
}

void Scheduler::CheckExits() {
  const int64_t now = NowMs();
  for (auto e = exits_.begin(); e != exits_.end();) {
    Member* member = nullptr;
    for (auto& [id, m] : members_) {
      if (m.info.pid() == e->pid && m.info.host_scope() == cluster::HostScope()) member = &m;
    }
    if (member != nullptr && (member->finished || member->dead)) {
      e = exits_.erase(e);  // it said how it ended, or was already counted dead
      continue;
    }
    if (now < e->deadline_ms) {
      ++e;
      continue;
    }
    std::string what;
    if (member != nullptr) {
      member->dead = true;
      what = Describe(*member) + " " + e->how;
      wire::Control c;
      c.add_dead_nodes(member->info.id());
      c.set_reason(what);
      Broadcast(wire::NODE_DEAD, c);
    } else {
      what = e->label + " (pid " + std::to_string(e->pid) + ") " + e->how +
             " before joining the cluster";
    }
    LOG(ERROR) << what;
    failures_.push_back(what);
    exits_.erase(e);
    // No node can take over another's part yet: a death ends the run, now rather than
    // after a heartbeat timeout.
    ShutdownLocked(true, what);
    return;
  }
}

Status Scheduler::Run() {
  van_.Start([this](transport::Message&& m) { OnMessage(std::move(m)); },
             [this](const wire::Header& h, const Status& s) { OnReject(h, s); });
  const int64_t start = NowMs();
  std::unique_lock<std::mutex> lock(mu_);
  while (!done_) {
    cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (done_) break;
    CheckExits();
    if (done_) break;
    if (!assigned_) {
      if (NowMs() - start > options_.register_timeout_ms) {
        int s = 0, w = 0;
        for (const auto& p : pending_) (p.role() == wire::SERVER ? s : w)++;
        result_ = Unavailable(
            "only " + std::to_string(s) + "/" + std::to_string(options_.num_servers) +
            " server(s) and " + std::to_string(w) + "/" + std::to_string(options_.num_workers) +
            " worker(s) registered within " + std::to_string(options_.register_timeout_ms) + " ms");
        done_ = true;
      }
      continue;
    }
    CheckHeartbeats();
  }
  lock.unlock();
  van_.Stop(/*linger_ms=*/2000);  // let SHUTDOWN reach every node
  return result_;
}

}  // namespace sparrow::scheduler
