// Daemon: `sparrow serve` as an object — loads the model, starts the HTTP and binary front
// ends, and runs the control loop on the calling thread:
//   SIGHUP           reload the model file
//   file replaced    reload (the file's inode, size and mtime are checked every
//                    watch_interval_ms; writers that rename a finished file in place, as
//                    `sparrow train` does, are picked up whole)
//   SIGTERM/SIGINT   drain: stop accepting, finish requests in flight (up to
//                    drain_timeout_ms), stop, return 0
// A reload loads and verifies the new file beside the old (CRC, header, feature spec, kind)
// and swaps it in atomically; on any failure the old model keeps serving and the reason is
// logged and counted.
//
// Thread safety: Start and Run on one thread; Reload from any thread.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "serve/binary_server.h"
#include "serve/http_server.h"
#include "serve/serve_context.h"

namespace sparrow::serve {

class Daemon {
 public:
  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every thread
  // started after), loads `model_path` and starts listening. Fails with the reason when
  // the model does not load or an address cannot be bound.
  static Result<std::unique_ptr<Daemon>> Start(const std::string& model_path, ServeConfig config);
  ~Daemon();

  // "http=127.0.0.1:PORT binary=tcp://127.0.0.1:PORT", with the real ports.
  std::string Listening() const;
  // Runs the control loop until SIGTERM/SIGINT has drained the daemon. Returns the exit
  // code (0).
  int Run();
  // Loads the model file again and swaps it in. Returns why not (old model kept).
  Status Reload(const char* why);

 private:
  Daemon() = default;
  void Drain();
  bool FileChanged();

  std::string path_;
  ServeContext ctx_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<BinaryServer> binary_;
  std::mutex reload_mu_;  // one reload at a time; guards the two below
  uint64_t next_generation_ = 1;
  struct stat seen_ {};  // the file as of the last load attempt
};

}  // namespace sparrow::serve
