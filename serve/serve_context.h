// ServeContext: what the daemon's front ends (HTTP, binary) share — config, the model
// slot, metrics, the drain flag and the reload entry point. Owned by the Daemon, which
// outlives both front ends.
//
// Thread safety: config and outputs are fixed before the front ends start; slot and
// metrics are thread-safe; reload may be called from any thread.
#pragma once

#include <atomic>
#include <functional>

#include "core/status.h"
#include "proto/serve.pb.h"
#include "serve/metrics.h"
#include "serve/model_slot.h"
#include "serve/score_worker.h"

namespace sparrow::serve {

struct ServeContext {
  ServeConfig config;
  OutputOptions outputs;
  ModelSlot slot;
  Metrics metrics;
  // Set on SIGTERM: /readyz turns 503 and HTTP responses close their connections.
  std::atomic<bool> draining{false};
  // Loads the model file again, verifies it and swaps it in; the old model keeps serving
  // on failure. Synchronous; serialised with the daemon's other reloads.
  std::function<Status(const char* why)> reload;
};

}  // namespace sparrow::serve
