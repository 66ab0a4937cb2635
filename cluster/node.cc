#include "cluster/node.h"

#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>

namespace sparrow::cluster {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string HostScope() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(boot, id);
  char net[128];
  const ssize_t n = readlink("/proc/self/ns/net", net, sizeof(net) - 1);
  if (id.empty() || n <= 0) return "";
  return id + "/" + std::string(net, static_cast<size_t>(n));
}

Node::Node(NodeOptions options) : options_(std::move(options)) {}

Node::~Node() {
  Stop();
}

Status Node::SendToScheduler(wire::Command cmd, wire::Control* control, uint64_t request_id) {
  transport::Message msg = transport::Message::Make(cmd, id_, kSchedulerId, request_id);
  if (control) msg.header.mutable_control()->Swap(control);
  return van_.Send(kSchedulerId, msg);
}

Status Node::Start(Handler handler) {
  handler_ = std::move(handler);
  if (!options_.curve_keys.empty()) {
    SPARROW_ASSIGN_OR_RETURN(transport::CurveKeys keys,
                             transport::ReadCurveKeys(options_.curve_keys));
    SPARROW_RETURN_IF_ERROR(van_.EnableCurve(keys));
  }
  SPARROW_ASSIGN_OR_RETURN(std::string endpoint, van_.Bind(options_.bind));
  wire::Control reg;
  if (options_.local_ipc) BindLocal(reg.mutable_node());  // before the receive thread runs
  van_.SetPollSpin(options_.poll_spin_us);
  van_.Start([this](transport::Message&& m) { OnMessage(std::move(m)); },
             [this](const wire::Header& h, const Status& why) {
               // A known peer that sent something unreadable hears why.
               if (!van_.Connected(h.sender())) return;
               transport::Message r = transport::Message::ErrorReply(h, id_, why);
               (void)van_.Send(h.sender(), r);
             });
  SPARROW_RETURN_IF_ERROR(van_.Connect(kSchedulerId, options_.scheduler));

  reg.mutable_node()->set_role(options_.role);
  reg.mutable_node()->set_address(endpoint);
  reg.mutable_node()->set_pid(getpid());
  if (options_.rank_hint >= 0) reg.mutable_node()->set_rank_hint(options_.rank_hint + 1);
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  reg.mutable_node()->set_hostname(host);
  SPARROW_RETURN_IF_ERROR(SendToScheduler(wire::REGISTER, &reg));

  std::unique_lock<std::mutex> lock(mu_);
  const bool got = cv_.wait_for(lock, std::chrono::milliseconds(options_.register_timeout_ms),
                                [&] { return have_table_ || !register_error_.ok(); });
  if (!register_error_.ok()) return register_error_;
  if (!got) {
    return Unavailable("no node table from the scheduler at " + options_.scheduler + " within " +
                       std::to_string(options_.register_timeout_ms) +
                       " ms (is it running, and expecting this many nodes?" +
                       (options_.curve_keys.empty()
                            ? std::string(" Does it expect CURVE keys?)")
                            : " Does it use the cluster keys " + options_.curve_keys + "?)"));
  }
  lock.unlock();

  // Workers send requests to servers; servers send replies to workers.
  const auto& peers = options_.role == wire::WORKER ? table_.servers : table_.workers;
  for (const auto& p : peers) SPARROW_RETURN_IF_ERROR(van_.Connect(p.id(), PeerAddress(p)));
  last_scheduler_contact_ms_ = NowMs();
  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  // Nobody sends a request before every node has connected to its peers: a server that
  // got a request before the node table would not know whom to answer.
  SPARROW_RETURN_IF_ERROR(Barrier(wire::ROLE_UNSPECIFIED));
  LOG(INFO) << wire::Role_Name(options_.role) << " rank " << rank_ << " is node " << id_ << " at "
            << endpoint << (van_.curve() ? " (CURVE)" : "");
  return Status::Ok();
}

void Node::BindLocal(wire::NodeInfo* self) {
  host_scope_ = HostScope();
  if (host_scope_.empty()) return;
  // Unique among the nodes of this process (tests run several) and of this host.
  static std::atomic<int> next{0};
  const std::string name = "sparrow-" + std::to_string(getpid()) + "-" + std::to_string(next++);
  Result<std::string> local = van_.BindLocal(name);
  if (!local.ok()) {
    LOG(WARNING) << local.status().message() << "; peers on this host will use ZeroMQ";
    return;
  }
  self->set_local_address(*local);
  self->set_host_scope(host_scope_);
}

const std::string& Node::PeerAddress(const wire::NodeInfo& peer) const {
  const bool local = options_.local_ipc && !host_scope_.empty() && !peer.local_address().empty() &&
                     peer.host_scope() == host_scope_;
  return local ? peer.local_address() : peer.address();
}

void Node::OnMessage(transport::Message&& msg) {
  if (msg.header.sender() == kSchedulerId) {
    last_scheduler_contact_ms_ = NowMs();
    switch (msg.header.command()) {
      case wire::NODE_TABLE:
      case wire::BARRIER_RELEASE:
      case wire::NODE_DEAD:
      case wire::SHUTDOWN:
      case wire::ERROR:
      case wire::ACK:
        OnControl(msg);
        return;
      default:
        break;
    }
  }
  if (handler_) handler_(std::move(msg));
}

void Node::OnControl(const transport::Message& msg) {
  const wire::Header& h = msg.header;
  switch (h.command()) {
    case wire::NODE_TABLE: {
      std::lock_guard<std::mutex> lock(mu_);
      table_ = NodeTable::FromControl(h.control());
      id_ = h.receiver();
      const wire::NodeInfo* self = table_.Find(id_);
      rank_ = self ? self->rank() : -1;
      have_table_ = true;
      cv_.notify_all();
      return;
    }
    case wire::BARRIER_RELEASE: {
      std::lock_guard<std::mutex> lock(mu_);
      barrier_released_ = std::max(barrier_released_, h.request_id());
      if (h.control().sums_size() > 0 || h.control().maxima_size() > 0) {
        reduced_[h.request_id()] = h.control();
      }
      cv_.notify_all();
      return;
    }
    case wire::NODE_DEAD: {
      std::vector<int> dead(h.control().dead_nodes().begin(), h.control().dead_nodes().end());
      {
        std::lock_guard<std::mutex> lock(mu_);
        dead_.insert(dead_.end(), dead.begin(), dead.end());
      }
      LOG(WARNING) << "scheduler reports dead node(s): " << h.control().reason();
      if (dead_handler_) dead_handler_(dead, h.control().reason());
      return;
    }
    case wire::SHUTDOWN:
      if (h.control().failed() && failed_handler_) failed_handler_(h.control().reason());
      MarkShutdown(h.control().failed() ? Aborted("cluster failed: " + h.control().reason())
                                        : Status::Ok());
      return;
    case wire::ERROR: {
      LOG(ERROR) << "scheduler: " << h.error();
      std::lock_guard<std::mutex> lock(mu_);
      if (!have_table_) register_error_ = FailedPrecondition("scheduler refused: " + h.error());
      cv_.notify_all();
      return;
    }
    default:
      return;  // heartbeat ACKs only refresh the contact time
  }
}

void Node::MarkShutdown(Status why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_.load()) return;
  shutdown_status_ = std::move(why);
  shutdown_.store(true);
  cv_.notify_all();
}

void Node::HeartbeatLoop() {
  while (!stop_.load()) {
    {
      // A wait, not a sleep: Stop() must not sit out the rest of an interval.
      std::unique_lock<std::mutex> lock(mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.heartbeat_ms),
                        [&] { return stop_.load(); });
    }
    if (stop_.load() || shutdown_.load()) continue;
    (void)SendToScheduler(wire::HEARTBEAT);
    const int64_t silent = NowMs() - last_scheduler_contact_ms_.load();
    if (silent > options_.scheduler_timeout_ms) {
      const std::string why =
          "scheduler at " + options_.scheduler + " silent for " + std::to_string(silent) + " ms";
      LOG(ERROR) << why << "; leaving the cluster";
      if (dead_handler_) dead_handler_({kSchedulerId}, why);
      MarkShutdown(Unavailable(why));
    }
  }
}

bool Node::IsDead(int id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::find(dead_.begin(), dead_.end(), id) != dead_.end();
}

Status Node::Barrier(wire::Role group) {
  std::vector<double> none;
  return AllReduce(group, &none, &none);
}

Status Node::AllReduce(wire::Role group, std::vector<double>* sums, std::vector<double>* maxima) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = ++barrier_seq_;
  }
  wire::Control c;
  c.set_barrier_group(group);
  for (double v : *sums) c.add_sums(v);
  for (double v : *maxima) c.add_maxima(v);
  SPARROW_RETURN_IF_ERROR(SendToScheduler(wire::BARRIER, &c, seq));
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return barrier_released_ >= seq || shutdown_.load(); });
  if (barrier_released_ < seq) return Aborted("cluster shut down during a barrier");
  // The scheduler reduces nothing when the nodes' counts differ.
  auto it = reduced_.find(seq);
  const bool none = it == reduced_.end();
  if ((none && (!sums->empty() || !maxima->empty())) ||
      (!none && (it->second.sums_size() != static_cast<int>(sums->size()) ||
                 it->second.maxima_size() != static_cast<int>(maxima->size())))) {
    if (!none) reduced_.erase(it);
    return Internal("barrier " + std::to_string(seq) +
                    ": the nodes of the group passed different numbers of values");
  }
  if (none) return Status::Ok();
  sums->assign(it->second.sums().begin(), it->second.sums().end());
  maxima->assign(it->second.maxima().begin(), it->second.maxima().end());
  reduced_.erase(it);
  return Status::Ok();
}

void Node::Finish(bool failed, const std::string& reason) {
  wire::Control c;
  c.set_failed(failed);
  c.set_reason(reason);
  Status st = SendToScheduler(wire::FINISH, &c);
  if (!st.ok()) LOG(WARNING) << "could not report finish: " << st.message();
}

Status Node::WaitForShutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return shutdown_.load(); });
  return shutdown_status_;
}

void Node::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_.store(true);
  }
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  van_.Stop();
}

}  // namespace sparrow::cluster
