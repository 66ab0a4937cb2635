#include "tests/serve/serve_harness.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace sparrow::serve::testing {

const std::string& TempDir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/sparrow_serve_test.XXXXXX";
    std::string d = mkdtemp(tmpl);
    static struct Cleanup {
      std::string d;
      ~Cleanup() { std::filesystem::remove_all(d); }
    } cleanup{d};
    return d;
  }();
  return dir;
}

int RunSparrow(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {SPARROW_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  process::SpawnOptions opt;
  opt.stdout_path = log;
  opt.stderr_path = log;
  auto p = process::ChildProcess::Spawn(argv, opt);
  if (!p.ok()) return -1000;
  return p->Wait(-1).value_or(-1000);
}

const DemoModels& Models() {
  static const DemoModels models = [] {
    DemoModels m;
    const std::string d = TempDir();
    m.csv = d + "/credit.csv";
    EXPECT_EQ(RunSparrow({"synth", "--kind=credit", "--rows=20000", "--output=" + m.csv},
                         d + "/synth.log"),
              0);
    auto train = [&](const std::string& name, int epochs) {
      const std::string out = d + "/" + name;
      EXPECT_EQ(RunSparrow({"train", std::string(SPARROW_SOURCE_DIR) + "/configs/demo.conf",
                            "--out=" + out, "--set", "train.epochs=" + std::to_string(epochs),
                            "--set", "data.train=" + m.csv, "--set", "cluster.servers=1", "--set",
                            "cluster.workers=1", "--set", "name=demo_" + name},
                           out + ".log"),
                0)
          << ReadFile(out + ".log");
      return out + "/model.bin";
    };
    m.a = train("a", 1);
    m.b = train("b", 2);
    return m;
  }();
  return models;
}

namespace {

size_t Append(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

struct Client {
  Client() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
    curl = curl_easy_init();
  }
  ~Client() { curl_easy_cleanup(curl); }
  CURL* curl;
};

}  // namespace

HttpReply Http(const std::string& method, const std::string& url, const std::string& body,
               const std::vector<std::string>& headers) {
  thread_local Client client;
  CURL* c = client.curl;
  curl_easy_reset(c);
  HttpReply r;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = curl_slist_append(nullptr, "Expect:");
  list = curl_slist_append(list, "Content-Type: application/json");
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Append);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

ServeProcess::ServeProcess(const std::string& model, const std::vector<std::string>& args) {
  static int n = 0;
  log_ = TempDir() + "/serve" + std::to_string(n++) + ".log";
  std::vector<std::string> argv = {SPARROW_BINARY, "serve", "--model=" + model,
                                   "--http=127.0.0.1:0", "--binary=tcp://127.0.0.1:*"};
  argv.insert(argv.end(), args.begin(), args.end());
  process::SpawnOptions opt;
  opt.capture_stdout = true;
  opt.stderr_path = log_;
  auto p = process::ChildProcess::Spawn(argv, opt);
  if (!p.ok()) {
    ADD_FAILURE() << "spawn: " << p.status().message();
    return;
  }
  proc_ = std::move(*p);
  // The first stdout line names the real addresses.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd pfd{proc_.stdout_fd(), POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    char buf[256];
    const ssize_t k = read(proc_.stdout_fd(), buf, sizeof(buf));
    if (k <= 0) break;
    line.append(buf, static_cast<size_t>(k));
  }
  const size_t h = line.find("http=127.0.0.1:");
  const size_t b = line.find("binary=");
  if (h == std::string::npos) {
    ADD_FAILURE() << "sparrow serve did not start: " << line << "\n" << LogText();
    return;
  }
  port_ = std::atoi(line.c_str() + h + 15);
  if (b != std::string::npos) {
    binary_ = line.substr(b + 7);
    binary_ = binary_.substr(0, binary_.find_first_of(" \n"));
  }
}

ServeProcess::~ServeProcess() {
  if (proc_.running()) {
    proc_.Signal(SIGTERM);
    if (!proc_.Wait(10000)) proc_.Signal(SIGKILL);
  }
}

std::string ServeProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::string ServeProcess::LogText() const {
  return ReadFile(log_);
}

void ReplaceFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string DemoRecord(int i) {
  static const char* kCities[] = {"v1", "v7", "v49", "v12"};
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "{\"income\":%.3f,\"age\":%.3f,\"utilization\":%.3f,\"late_payments\":%d,"
                "\"city\":\"%s\",\"merchant\":\"v%d\",\"channel\":\"v%d\",\"product\":\"v%d\"}",
                0.1 * (i % 17) - 0.8, 0.05 * (i % 31) - 0.7, 0.07 * (i % 13) - 0.4, i % 4,
                kCities[i % 4], i % 100, i % 3, i % 9);
  return buf;
}

bool WaitFor(const std::function<bool()>& cond, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace sparrow::serve::testing
