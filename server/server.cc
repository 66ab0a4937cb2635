#include "server/server.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "checkpoint/checkpoint.h"
#include "model_file/model_file.h"
#include "server/checkpoint_part.h"

namespace sparrow::server {

using transport::Message;

Server::Server(cluster::Node* node, int threads)
    : node_(node), threads_(std::max(1, threads)), arena_(std::max(1, threads)) {}

Server::~Server() {
  if (writer_.joinable()) writer_.join();
}

void Server::Attach() {
  node_->SetDeadHandler([this](const std::vector<int>& dead, const std::string&) { OnDead(dead); });
}

void Server::EnsureWorkerClocks() {
  if (clocks_initialised_) return;
  for (const auto& w : node_->table().workers) worker_clock_[w.id()] = 0;
  clocks_initialised_ = true;
}

void Server::Send(int to, Message& msg) {
  Status st = node_->van().Send(to, msg);
  if (!st.ok()) LOG(WARNING) << "reply to node " << to << " lost: " << st.message();
}

void Server::ReplyAck(const wire::Header& req, wire::Control* control) {
  Message r = Message::ReplyTo(req, node_->id(), wire::ACK);
  if (control) r.header.mutable_control()->Swap(control);
  Send(req.sender(), r);
}

void Server::ReplyError(const wire::Header& req, const Status& why) {
  LOG(WARNING) << "rejected " << transport::CommandName(req.command()) << " from node "
               << req.sender() << ": " << why.message();
  Message r = Message::ErrorReply(req, node_->id(), why);
  Send(req.sender(), r);
}

void Server::Handle(Message&& msg) {
  EnsureWorkerClocks();
  const wire::Header& h = msg.header;
  if (!node_->van().Connected(h.sender())) {
    LOG(WARNING) << "ignoring " << transport::CommandName(h.command()) << " from unknown node "
                 << h.sender();
    return;
  }
  Status st = EnsureRestored();
  if (!st.ok()) {
    ReplyError(h, st);
    return;
  }
  switch (h.command()) {
    case wire::CREATE_TABLE:
      st = CreateTable(msg);
      if (st.ok()) ReplyAck(h);
      break;
    case wire::PUSH:
      st = Push(msg);
      if (st.ok()) {
        ReplyAck(h);
        if (h.flags() & wire::END_OF_STEP) AdvanceClock(h.sender(), h.clock() + 1);
      }
      break;
    case wire::PULL:
      Pull(std::move(msg));
      return;
    case wire::PUSH_PULL:
      st = Push(msg);
      if (!st.ok()) break;
      if (h.flags() & wire::END_OF_STEP) AdvanceClock(h.sender(), h.clock() + 1);
      ServePull(std::move(msg));
      return;
    case wire::CLOCK:
      Clock(msg);
      return;
    case wire::STATS:
      Stats(msg);
      return;
    case wire::SAVE:
      st = Save(msg);
      if (st.ok()) ReplyAck(h);
      break;
    case wire::CHECKPOINT:
      st = Checkpoint(msg);
      if (st.ok()) ReplyAck(h);
      break;
    case wire::CHECKPOINT_STATUS:
      CheckpointStatus(msg);
      return;
    default:
      st = InvalidArgument(std::string("a server does not handle ") +
                           transport::CommandName(h.command()));
  }
  if (!st.ok()) ReplyError(h, st);
}

Result<Table*> Server::TableFor(const wire::TableSpec& spec) {
  const size_t servers = std::max<size_t>(1, node_->table().servers.size());
  auto it = tables_.find(spec.id());
  if (it != tables_.end()) {
    // Every worker may create the tables it uses; the same spec twice is fine. The
    // capacity hint may differ (each worker counts its own shard): the largest wins.
    wire::TableSpec mine = it->second->spec(), theirs = spec;
    mine.clear_expected_keys();
    theirs.clear_expected_keys();
    if (mine.SerializeAsString() != theirs.SerializeAsString()) {
      return InvalidArgument("table " + std::to_string(spec.id()) +
                             " already exists with another spec");
    }
    it->second->Reserve(spec.expected_keys() / servers);
    return it->second.get();
  }
  const wire::NodeInfo* me = node_->table().Find(node_->id());
  SPARROW_ASSIGN_OR_RETURN(
      auto table, Table::Create(spec, spec.expected_keys() / servers, me->key_begin(),
                                me->key_end(), threads_, threads_ > 1 ? &arena_ : nullptr));
  LOG(INFO) << "table " << spec.id() << " '" << spec.name() << "': width " << spec.width() << ", "
            << wire::OptimizerKind_Name(spec.optimizer());
  Table* t = table.get();
  tables_[spec.id()] = std::move(table);
  return t;
}

Status Server::CreateTable(const Message& msg) {
  return TableFor(msg.header.control().table()).status();
}

Status Server::EnsureRestored() {
  if (restore_dir_.empty() || restore_tried_) return restored_;
  restore_tried_ = true;
  const wire::NodeInfo* me = node_->table().Find(node_->id());
  const auto start = std::chrono::steady_clock::now();
  restored_ = RestoreCheckpoint(restore_dir_, me->key_begin(), me->key_end(),
                                [this](const wire::TableSpec& spec) { return TableFor(spec); });
  if (!restored_.ok()) {
    restored_ = restored_.WithContext("server " + std::to_string(node_->rank()) +
                                      " cannot restore its checkpoint");
    LOG(ERROR) << restored_.message();
    return restored_;
  }
  size_t rows = 0;
  for (const auto& [id, t] : tables_) rows += t->Stats().keys();
  LOG(INFO) << "restored " << rows << " row(s) from " << restore_dir_ << " in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s";
  return restored_;
}

Result<Table*> Server::FindTable(uint32_t id) {
  auto it = tables_.find(id);
  if (it == tables_.end()) {
    return FailedPrecondition("no table " + std::to_string(id) + " on this server");
  }
  return it->second.get();
}

namespace {

// Slices [0, PushedSlices) of a message are pushed, [FirstPulled, end) pulled.
size_t PushedSlices(const wire::Header& h) {
  switch (h.command()) {
    case wire::PUSH:
      return h.slices_size();
    case wire::PUSH_PULL:
      return h.num_push_slices();
    default:
      return 0;
  }
}

size_t FirstPulled(const wire::Header& h) {
  switch (h.command()) {
    case wire::PULL:
      return 0;
    case wire::PUSH_PULL:
      return h.num_push_slices();
    default:
      return h.slices_size();
  }
}

}  // namespace

Result<std::vector<Table*>> Server::SliceTables(const Message& msg) {
  const wire::NodeInfo* me = node_->table().Find(node_->id());
  SPARROW_RETURN_IF_ERROR(ValidateDataFrames(msg, me->key_begin(), me->key_end()));
  std::vector<Table*> tables;
  for (int i = 0; i < msg.header.slices_size(); ++i) {
    const wire::Slice& sl = msg.header.slices(i);
    SPARROW_ASSIGN_OR_RETURN(Table * table, FindTable(sl.table()));
    const bool pull = static_cast<size_t>(i) >= FirstPulled(msg.header);
    if (sl.value_width() != table->width() && !(pull && sl.value_width() == 0)) {
      return InvalidArgument(std::string(pull ? "pull" : "push") + " of width " +
                             std::to_string(sl.value_width()) + " from table " +
                             std::to_string(sl.table()) + " of width " +
                             std::to_string(table->width()));
    }
    tables.push_back(table);
  }
  return tables;
}

bool Server::FirstDelivery(const wire::Header& h) {
  Delivered& d = delivered_[h.sender()];
  if (h.oldest_pending() > d.floor) {
    d.floor = h.oldest_pending();
    // Ids below the floor need no memory: the sender will not send them again.
    if (d.ids.size() > d.kept + 1024) {  // now and then: each prune costs a pass
      std::erase_if(d.ids, [&](uint64_t id) { return id < d.floor; });
      d.kept = d.ids.size();
    }
  }
  if (h.request_id() < d.floor) return false;  // answered or given up long ago
  return d.ids.insert(h.request_id()).second;
}

Status Server::Push(const Message& msg) {
  SPARROW_ASSIGN_OR_RETURN(std::vector<Table*> tables, SliceTables(msg));
  if (!FirstDelivery(msg.header)) {
    LOG(WARNING) << "push " << msg.header.request_id() << " from node " << msg.header.sender()
                 << " arrived again; applied once";
    return Status::Ok();
  }
  for (size_t i = 0; i < PushedSlices(msg.header); ++i) {
    const uint64_t n = msg.header.slices(i).num_keys();
    if (n > 0) tables[i]->Push(msg.keys(i).data(), msg.values(i).data(), n);
  }
  return Status::Ok();
}

bool Server::PullReady(const wire::Header& h) const {
  const int max_delay = node_->table().max_delay;
  if (max_delay < 0 || worker_clock_.empty()) return true;
  int64_t slowest = std::numeric_limits<int64_t>::max();
  for (const auto& [id, c] : worker_clock_) slowest = std::min(slowest, c);
  const bool after_step = h.command() == wire::PUSH_PULL && (h.flags() & wire::END_OF_STEP);
  return h.clock() + (after_step ? 1 : 0) - max_delay <= slowest;
}

void Server::Pull(Message&& msg) {
  Result<std::vector<Table*>> tables = SliceTables(msg);
  if (!tables.ok()) {
    ReplyError(msg.header, tables.status());
    return;
  }
  ServePull(std::move(msg));
}

void Server::ServePull(Message&& msg) {
  const wire::Header& h = msg.header;
  if (!PullReady(h)) {
    held_pulls_.push_back(std::move(msg));
    return;
  }
  Message r = Message::ReplyTo(h, node_->id(), wire::PULL_REPLY);
  for (size_t i = FirstPulled(h); i < static_cast<size_t>(h.slices_size()); ++i) {
    Table* table = tables_.at(h.slices(i).table()).get();  // checked before
    const size_t n = h.slices(i).num_keys();
    const uint32_t w = table->width();
    // The reply buffer is freed by ZeroMQ once sent; malloc reuses it for the next reply.
    std::shared_ptr<float[]> values(new float[n * w]);
    if (n > 0) table->Pull(msg.keys(i).data(), n, values.get());
    r.AddSlice(h.slices(i).table(), w, n, zmq::message_t(),
               transport::ZeroCopyFrame(values, values.get(), n * w * sizeof(float)));
  }
  Send(h.sender(), r);
}

void Server::Clock(const Message& msg) {
  AdvanceClock(msg.header.sender(), msg.header.clock());
}

void Server::AdvanceClock(int worker, int64_t clock) {
  auto it = worker_clock_.find(worker);
  if (it == worker_clock_.end()) return;  // finished or dead
  if (clock == std::numeric_limits<int64_t>::max()) {
    worker_clock_.erase(it);  // the worker is done; it no longer holds anyone back
  } else {
    it->second = std::max(it->second, clock);
  }
  ReleaseHeldPulls();
}

void Server::OnDead(const std::vector<int>& dead) {
  for (int id : dead) worker_clock_.erase(id);
  ReleaseHeldPulls();
}

void Server::ReleaseHeldPulls() {
  std::deque<Message> still;
  while (!held_pulls_.empty()) {
    Message m = std::move(held_pulls_.front());
    held_pulls_.pop_front();
    if (PullReady(m.header)) {
      ServePull(std::move(m));
    } else {
      still.push_back(std::move(m));
    }
  }
  held_pulls_ = std::move(still);
}

void Server::Stats(const Message& msg) {
  wire::Control c;
  for (const auto& [id, t] : tables_) *c.add_stats() = t->Stats();
  ReplyAck(msg.header, &c);
}

}  // namespace sparrow::server

namespace sparrow::server {

Status Server::Save(const Message& msg) {
  const std::string path = msg.header.control().path() + ".part-" + std::to_string(node_->rank());
  // Rows sorted by key, all-zero rows left out: the part is a model file of this range.
  // Only the keys are gathered (8 bytes a row); weights go through the writer a chunk at
  // a time, so saving a table costs no copy of it.
  model::ModelHeader header;
  std::vector<std::vector<uint64_t>> keys;
  std::vector<const Table*> tables;
  for (const auto& [id, table] : tables_) {
    const uint32_t w = table->width();
    std::vector<uint64_t>& k = keys.emplace_back();
    table->ForEachWeights([&](uint64_t key, const float* v) {
      bool zero = true;
      for (uint32_t j = 0; j < w; ++j) zero = zero && v[j] == 0.0f;
      if (!zero) k.push_back(key);
    });
    if (!std::is_sorted(k.begin(), k.end())) std::sort(k.begin(), k.end());
    tables.push_back(table.get());
    auto* info = header.add_tables();
    info->set_name(table->spec().name());
    info->set_id(id);
    info->set_width(w);
    info->set_rows(k.size());
  }
  SPARROW_ASSIGN_OR_RETURN(auto writer, model_file::ModelWriter::Open(path, header));
  constexpr size_t kChunk = 4096;
  std::vector<float> weights;
  for (size_t t = 0; t < tables.size(); ++t) {
    for (size_t at = 0; at < keys[t].size(); at += kChunk) {
      const size_t n = std::min(kChunk, keys[t].size() - at);
      weights.resize(n * tables[t]->width());
      tables[t]->Pull(keys[t].data() + at, n, weights.data());
      SPARROW_RETURN_IF_ERROR(writer->Append(keys[t].data() + at, weights.data(), n));
    }
  }
  SPARROW_RETURN_IF_ERROR(writer->Commit());
  LOG(INFO) << "saved " << path;
  return Status::Ok();
}

Status Server::Checkpoint(const Message& msg) {
  if (writer_.joinable()) writer_.join();  // one part at a time
  const auto start = std::chrono::steady_clock::now();
  auto snapshots = std::make_shared<std::vector<TableSnapshot>>();
  for (uint32_t id : msg.header.control().table_ids()) {
    auto it = tables_.find(id);
    if (it != tables_.end()) snapshots->push_back(Snapshot(*it->second));  // else none yet
  }
  const double copied =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string dir = msg.header.control().path();
  const std::string path = checkpoint::ServerPart(dir, node_->rank());
  {
    std::lock_guard<std::mutex> lock(written_mu_);
    written_.erase(dir);
    writing_ = dir;
  }
  // The tables train on while their copy goes to disk.
  writer_ = std::thread([this, snapshots, dir, path, copied, start] {
    uint64_t bytes = 0;
    Status st = WriteCheckpointPart(path, *snapshots, &bytes);
    LOG(INFO) << "checkpoint " << path << ": " << bytes << " bytes, tables copied in " << copied
              << " s, written in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
              << " s" << (st.ok() ? "" : ": " + st.message());
    std::lock_guard<std::mutex> lock(written_mu_);
    written_[dir] = st;
    writing_.clear();
  });
  return Status::Ok();
}

void Server::CheckpointStatus(const Message& msg) {
  Status st;
  bool done;
  {
    std::lock_guard<std::mutex> lock(written_mu_);
    const std::string& dir = msg.header.control().path();
    auto it = written_.find(dir);
    done = it != written_.end();
    if (done) st = it->second;
    if (!done && writing_ != dir) {
      st = NotFound("server " + std::to_string(node_->rank()) + " was not asked to write " + dir);
    }
  }
  if (!st.ok()) {
    ReplyError(msg.header, st);
    return;
  }
  wire::Control c;
  c.set_pending(!done);
  ReplyAck(msg.header, &c);
}

}  // namespace sparrow::server
