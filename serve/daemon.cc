#include "serve/daemon.h"

#include <glog/logging.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "serve/open_files.h"
#include "serve/serve_config.h"

namespace sparrow::serve {
namespace {

sigset_t ControlSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

std::string Describe(const ServingModel& m) {
  const scoring::Scorer& s = m.scorer();
  return "model '" + m.id() + "' version " + m.version() + " (" +
         config::ModelConfig_Kind_Name(s.header().model().kind()) + ", " +
         config::ModelConfig_Objective_Name(s.header().model().objective()) + ", " +
         std::to_string(s.keys()) + " keys, crc32c " + m.version() + ", generation " +
         std::to_string(m.generation()) + ") from " + s.path();
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::Start(const std::string& model_path, ServeConfig config) {
  SPARROW_RETURN_IF_ERROR(ValidateServeConfig(config));
  sigset_t set = ControlSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::unique_ptr<Daemon> d(new Daemon());
  d->path_ = model_path;
  d->ctx_.config = std::move(config);
  d->ctx_.outputs = ResolveOutputs(d->ctx_.config);
  d->ctx_.reload = [p = d.get()](const char* why) { return p->Reload(why); };
  const auto t0 = std::chrono::steady_clock::now();
  stat(model_path.c_str(), &d->seen_);
  SPARROW_ASSIGN_OR_RETURN(auto model, ServingModel::Load(model_path, d->next_generation_++));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  LOG(INFO) << "serve: loaded " << Describe(*model) << " in " << ms << " ms";
  const models::Objective obj = model->objective();
  if (d->ctx_.outputs.points && obj != models::Objective::kLogistic) {
    LOG(WARNING) << "serve: scorecard configured but the model is not logistic: no points";
  }
  if (d->ctx_.outputs.price && obj != models::Objective::kPoisson) {
    LOG(WARNING) << "serve: pricing configured but the model is not Poisson: no price";
  }
  d->ctx_.metrics.SetModel(model->id(), model->version(), model->generation());
  d->ctx_.slot.Set(std::move(model));
  const uint64_t files = RaiseOpenFileLimit();
  // Beside the connections: the model file, the binary endpoint's sockets, logs.
  const uint64_t need = uint64_t{d->ctx_.config.max_connections()} + 64;
  if (!d->ctx_.config.http().empty() && files < need) {
    LOG(WARNING) << "serve: the open-file limit is " << files
                 << ", below max_connections + 64 = " << need
                 << ": connections past it are refused (raise it with `ulimit -n`, "
                 << "LimitNOFILE= under systemd, or lower max_connections)";
  }
  if (!d->ctx_.config.http().empty()) {
    SPARROW_ASSIGN_OR_RETURN(d->http_, HttpServer::Start(d->ctx_.config.http(), &d->ctx_));
  }
  if (!d->ctx_.config.binary().empty()) {
    SPARROW_ASSIGN_OR_RETURN(d->binary_, BinaryServer::Start(d->ctx_.config.binary(), &d->ctx_));
  }
  LOG(INFO) << "serve: listening " << d->Listening() << " with " << d->ctx_.config.threads()
            << " HTTP thread(s)";
  return d;
}

Daemon::~Daemon() {
  if (http_) http_->Stop();
  if (binary_) binary_->Stop();
}

std::string Daemon::Listening() const {
  std::string s;
  if (http_) {
    const std::string& h = ctx_.config.http();
    s += "http=" + h.substr(0, h.rfind(':')) + ":" + std::to_string(http_->port());
  }
  if (binary_) s += std::string(s.empty() ? "" : " ") + "binary=" + binary_->endpoint();
  return s;
}

Status Daemon::Reload(const char* why) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  stat(path_.c_str(), &seen_);
  auto model = ServingModel::Load(path_, next_generation_);
  if (!model.ok()) {
    ctx_.metrics.CountReload(false);
    LOG(ERROR) << "serve: reload (" << why
               << ") rejected, old model keeps serving: " << model.status().message();
    return model.status();
  }
  ++next_generation_;
  auto old = ctx_.slot.Get();
  ctx_.metrics.SetModel((*model)->id(), (*model)->version(), (*model)->generation());
  LOG(INFO) << "serve: reload (" << why << "): " << Describe(**model) << " replaces version "
            << (old ? old->version() : "none");
  ctx_.slot.Set(std::move(*model));
  ctx_.metrics.CountReload(true);
  return Status::Ok();
}

bool Daemon::FileChanged() {
  struct stat now {};
  if (stat(path_.c_str(), &now) != 0) return false;  // mid-replace or gone: keep serving
  std::lock_guard<std::mutex> lock(reload_mu_);
  return !SameFile(now, seen_);
}

void Daemon::Drain() {
  LOG(INFO) << "serve: draining";
  ctx_.draining.store(true);
  if (http_) http_->StopAccepting();
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ctx_.config.drain_timeout_ms());
  while (ctx_.metrics.pending().load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const int64_t left = ctx_.metrics.pending().load();
  if (left > 0) LOG(WARNING) << "serve: drain timed out with " << left << " request(s) pending";
  if (http_) http_->Stop();
  if (binary_) binary_->Stop();
  LOG(INFO) << "serve: stopped";
}

int Daemon::Run() {
  const sigset_t set = ControlSignals();
  const uint32_t watch = ctx_.config.watch_interval_ms();
  for (;;) {
    const uint32_t wait_ms = watch > 0 ? watch : 1000;
    timespec ts{static_cast<time_t>(wait_ms / 1000), static_cast<long>(wait_ms % 1000) * 1000000};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      (void)Reload("SIGHUP");
    } else if (watch > 0 && FileChanged()) {
      (void)Reload("model file replaced");
    }
  }
  Drain();
  return 0;
}

}  // namespace sparrow::serve
