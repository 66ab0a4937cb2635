// Turns SIGINT and SIGTERM into a call on an ordinary thread, so shutdown logic can take
// locks and send messages (nothing of that is allowed in a signal handler).
#pragma once

#include <functional>

namespace sparrow::cluster {

// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread it starts later)
// and starts a detached thread that calls `on_signal(signo)` for each one received.
// Call once, early in main, before other threads exist.
void HandleTerminationSignals(std::function<void(int signo)> on_signal);

}  // namespace sparrow::cluster
