// Test harness for the scoring daemon: a real `sparrow serve` process on 127.0.0.1, a real
// HTTP client (libcurl), and models trained by the real `sparrow train`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "process/child_process.h"

namespace sparrow::serve::testing {

// A directory under /tmp, removed at process exit.
const std::string& TempDir();

// Two demo credit models (LR on synthetic data, trained once per test process): A with one
// epoch, B with two, so they differ in version. Paths of model.bin files; plus the CSV.
struct DemoModels {
  std::string a, b, csv;
};
const DemoModels& Models();

// Runs `sparrow ARGS...`; returns its exit code (stderr and stdout to `log`).
int RunSparrow(const std::vector<std::string>& args, const std::string& log);

struct HttpReply {
  long status = 0;
  std::string body;
  std::string headers;
  std::string error;  // transport failure (then status is 0)
};

// One HTTP exchange. A client per thread keeps its connection alive across calls.
HttpReply Http(const std::string& method, const std::string& url, const std::string& body = "",
               const std::vector<std::string>& headers = {});

// A `sparrow serve` child process, listening on free ports.
class ServeProcess {
 public:
  // Starts `sparrow serve --model=MODEL --http=127.0.0.1:0 --binary=tcp://127.0.0.1:* ARGS`
  // and waits for its "listening" line. Fails the test (ADD_FAILURE) on a start failure.
  explicit ServeProcess(const std::string& model, const std::vector<std::string>& args = {});
  ~ServeProcess();

  bool started() const { return port_ != 0; }
  std::string url(const std::string& path) const;
  const std::string& binary() const { return binary_; }
  int port() const { return port_; }
  process::ChildProcess& process() { return proc_; }
  const std::string& log() const { return log_; }
  std::string LogText() const;

 private:
  process::ChildProcess proc_;
  int port_ = 0;
  std::string binary_;
  std::string log_;
};

// Writes `text` to `path` via a temporary file and rename (as a deployment would).
void ReplaceFile(const std::string& path, const std::string& text);
std::string ReadFile(const std::string& path);

// A JSON record of the demo credit model.
std::string DemoRecord(int i);

// Polls `cond` every 10 ms for up to `timeout_ms`; returns whether it became true.
bool WaitFor(const std::function<bool()>& cond, int timeout_ms = 10000);

}  // namespace sparrow::serve::testing
