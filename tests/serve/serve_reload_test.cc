// Hot reload (admin endpoint, SIGHUP, file replacement), a corrupt model on reload, and
// SIGTERM draining, against a real daemon process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/serve/serve_harness.h"

namespace sparrow::serve::testing {
namespace {

using nlohmann::json;

std::string VersionOf(const ServeProcess& d) {
  HttpReply r = Http("GET", d.url("/v1/model"));
  return r.status == 200 ? json::parse(r.body)["version"].get<std::string>() : "";
}

std::string Versioned(const std::string& name) {
  return TempDir() + "/" + name + "/model.bin";
}

// A private copy of model A that a test may replace.
std::string FreshModelPath(const std::string& name) {
  std::filesystem::create_directories(TempDir() + "/" + name);
  const std::string path = Versioned(name);
  ReplaceFile(path, ReadFile(Models().a));
  return path;
}

TEST(ServeReload, UnderLoadLosesNoRequestAndNamesOldOrNewVersion) {
  const std::string path = FreshModelPath("under_load");
  ServeProcess d(path, {"--threads=2"});
  ASSERT_TRUE(d.started());
  const std::string old_version = VersionOf(d);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, ok{0}, new_seen{0};
  std::string new_version;
  std::vector<std::thread> clients;
  std::mutex mu;
  std::string first_bad;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        HttpReply r =
            Http("POST", d.url("/v1/score"), "{\"records\":[" + DemoRecord(t * 1000 + i) + "]}");
        std::string v;
        if (r.status == 200) v = json::parse(r.body)["version"];
        if (r.status != 200 || v.size() != 8) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_bad.empty()) first_bad = std::to_string(r.status) + " " + r.body + r.error;
          ++bad;
          continue;
        }
        ++ok;
        if (v != old_version) ++new_seen;
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return ok.load() > 200; }));
  ReplaceFile(path, ReadFile(Models().b));
  HttpReply r = Http("POST", d.url("/v1/admin/reload"));
  EXPECT_EQ(r.status, 200) << r.body;
  new_version = json::parse(r.body)["version"];
  EXPECT_NE(new_version, old_version);
  EXPECT_TRUE(WaitFor([&] { return new_seen.load() > 200; }));
  // SIGHUP reloads too (same file: a new generation, same version).
  d.process().Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] {
    return Http("GET", d.url("/metrics")).body.find("sparrow_serve_reloads_total 2") !=
           std::string::npos;
  }));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(bad.load(), 0) << first_bad;
  EXPECT_EQ(VersionOf(d), new_version);
}

TEST(ServeReload, CorruptModelKeepsTheOldOneServing) {
  const std::string path = FreshModelPath("corrupt");
  ServeProcess d(path, {});
  ASSERT_TRUE(d.started());
  const std::string old_version = VersionOf(d);
  const std::string good = ReadFile(path);
  for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("garbage"), [&] {
                                   std::string s = good;
                                   s[s.size() - 7] ^= 0x55;  // a flipped bit in the rows: CRC
                                   return s;
                                 }()}) {
    ReplaceFile(path, bad);
    HttpReply r = Http("POST", d.url("/v1/admin/reload"));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(r.body.find("old model kept"), std::string::npos) << r.body;
    r = Http("POST", d.url("/v1/score"), "{\"records\":[" + DemoRecord(1) + "]}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["version"], old_version);
  }
  EXPECT_NE(Http("GET", d.url("/metrics")).body.find("sparrow_serve_reload_failures_total 3"),
            std::string::npos);
  EXPECT_NE(d.LogText().find("rejected, old model keeps serving"), std::string::npos);
}

TEST(ServeReload, ReplacedFileIsPickedUpByTheWatch) {
  const std::string path = FreshModelPath("watch");
  const std::string conf = TempDir() + "/watch.conf";
  ReplaceFile(conf, "watch_interval_ms: 50\n");
  ServeProcess d(path, {"--config=" + conf});
  ASSERT_TRUE(d.started());
  const std::string old_version = VersionOf(d);
  ReplaceFile(path, ReadFile(Models().b));
  EXPECT_TRUE(WaitFor([&] {
    const std::string v = VersionOf(d);
    return !v.empty() && v != old_version;
  }));
}

TEST(ServeShutdown, SigtermDrainsInFlightRequestsAndExitsZero) {
  ServeProcess d(Models().a, {});
  ASSERT_TRUE(d.started());
  // A request in flight: headers sent, body not yet complete.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(d.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const std::string body = "{\"records\":[" + DemoRecord(3) + "]}";
  const std::string head =
      "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n";
  const std::string first = head + body.substr(0, 10);
  ASSERT_EQ(write(fd, first.data(), first.size()), static_cast<ssize_t>(first.size()));
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", d.url("/metrics")).body.find("sparrow_serve_pending 1") != std::string::npos;
  }));
  d.process().Signal(SIGTERM);
  // Draining: not ready, no new connections, but the request in flight completes.
  ASSERT_TRUE(WaitFor([&] { return d.LogText().find("serve: draining") != std::string::npos; }));
  EXPECT_NE(Http("GET", d.url("/readyz")).status, 200);
  const std::string rest = body.substr(10);
  ASSERT_EQ(write(fd, rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  std::string reply;
  char buf[4096];
  for (ssize_t k; (k = read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, static_cast<size_t>(k));
  close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"score\":"), std::string::npos) << reply;
  auto code = d.process().Wait(10000);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

}  // namespace
}  // namespace sparrow::serve::testing
