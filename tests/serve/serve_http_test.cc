// The daemon's HTTP endpoints and every rejection, through a real client against a real
// `sparrow serve` process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "tests/serve/serve_harness.h"

namespace sparrow::serve::testing {
namespace {

using nlohmann::json;

std::string Records(int n, int first = 0) {
  std::string s = "{\"records\":[";
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + DemoRecord(first + i);
  return s + "]}";
}

class ServeHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemon_ = new ServeProcess(Models().a, {"--max_records=50", "--max_body_bytes=20000"});
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  static ServeProcess* daemon_;
};
ServeProcess* ServeHttpTest::daemon_ = nullptr;

TEST_F(ServeHttpTest, ScoresRecordsInOrderWithReasons) {
  ASSERT_TRUE(daemon_->started());
  HttpReply r = Http("POST", daemon_->url("/v1/score"), Records(5));
  ASSERT_EQ(r.status, 200) << r.body << r.error;
  json j = json::parse(r.body);
  EXPECT_EQ(j["model"].get<std::string>().rfind("demo_a", 0), 0u) << j["model"];
  EXPECT_EQ(j["version"].get<std::string>().size(), 8u);
  ASSERT_EQ(j["results"].size(), 5u);
  for (int i = 0; i < 5; ++i) {
    // Each record alone scores the same as in the batch: order is kept.
    HttpReply one = Http("POST", daemon_->url("/v1/score"),
                         "{\"records\":[" + DemoRecord(i) + "],\"explain\":3}");
    ASSERT_EQ(one.status, 200) << one.body;
    json o = json::parse(one.body)["results"][0];
    const double s = j["results"][i]["score"];
    EXPECT_EQ(o["score"].get<double>(), s);
    EXPECT_GT(s, 0.0);
    EXPECT_LT(s, 1.0);
    ASSERT_EQ(o["reasons"].size(), 3u);
    // Largest contribution first; each names a column and the value sent.
    EXPECT_GE(o["reasons"][0]["contribution"].get<double>(),
              o["reasons"][1]["contribution"].get<double>());
    EXPECT_GE(o["reasons"][1]["contribution"].get<double>(),
              o["reasons"][2]["contribution"].get<double>());
    EXPECT_FALSE(o["reasons"][0]["column"].get<std::string>().empty());
  }
  // A missing value (null or absent) is scored, as an empty CSV field would be.
  r = Http("POST", daemon_->url("/v1/score"), R"({"records":[{"income":null,"city":"v1"}]})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ServeHttpTest, HealthReadyModelMetrics) {
  HttpReply r = Http("GET", daemon_->url("/healthz"));
  EXPECT_EQ(r.status, 200);
  r = Http("GET", daemon_->url("/readyz"));
  EXPECT_EQ(r.status, 200);
  r = Http("GET", daemon_->url("/v1/model"));
  ASSERT_EQ(r.status, 200);
  json m = json::parse(r.body);
  EXPECT_EQ(m["kind"], "LR");
  EXPECT_EQ(m["objective"], "LOGISTIC");
  EXPECT_GT(m["keys"].get<int>(), 0);
  EXPECT_EQ(m["columns"][0]["name"], "income");
  ASSERT_EQ(Http("POST", daemon_->url("/v1/score"), Records(3)).status, 200);
  r = Http("GET", daemon_->url("/metrics"));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("sparrow_serve_requests_total{endpoint=\"score\",code=\"200\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("sparrow_serve_request_duration_seconds_bucket{endpoint=\"score\""),
            std::string::npos);
  EXPECT_NE(r.body.find("sparrow_serve_rows_scored_total"), std::string::npos);
  EXPECT_NE(r.body.find("sparrow_serve_model_info{model=\"demo_a"), std::string::npos);
  EXPECT_NE(r.body.find("sparrow_serve_reload_failures_total 0"), std::string::npos);
}

TEST_F(ServeHttpTest, RejectsBadInputNamingRecordAndColumn) {
  auto expect = [&](const std::string& body, long status, const std::string& part) {
    HttpReply r = Http("POST", daemon_->url("/v1/score"), body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    EXPECT_NE(r.body.find(part), std::string::npos) << body << " -> " << r.body;
  };
  expect(R"({"records":[{"income":1.0},)", 400, "malformed JSON");
  expect(R"({"records":[{"income":1.0}]} trailing)", 400, "malformed JSON");
  expect("not json", 400, "");
  expect(R"({"records":[{"income":1},{"income":"high"}]})", 400,
         "record 1: column 'income': expected a number or null, got a string");
  expect(R"({"records":[{"city":[1]}]})", 400, "record 0: column 'city': expected a string");
  expect(R"({"records":[{"income":NaN}]})", 400, "malformed JSON");
  expect(R"({"records":[{"income":Infinity}]})", 400, "malformed JSON");
  expect(R"({"records":[{"income":1e999}]})", 400,
         "record 0: column 'income': not a finite number");
  expect(R"({"records":[{"income":1,"shoe_size":42}]})", 400,
         "record 0: column 'shoe_size': unknown column");
  expect(R"({"records":[{"income":1,"income":2}]})", 400, "column 'income': given twice");
  expect(R"({"records":[]})", 400, "empty");
  expect(R"({"records":[1]})", 400, "record 0: must be an object");
  expect(R"({"rows":[]})", 400, "unknown field 'rows'");
  expect(R"({"records":[{}],"explain":-1})", 400, "explain");
  expect(Records(51), 400, "too many records: at most 50");
  // 413: by Content-Length, before the body is read.
  HttpReply r = Http("POST", daemon_->url("/v1/score"), std::string(30000, ' '));
  EXPECT_EQ(r.status, 413) << r.body;
  r = Http("GET", daemon_->url("/v1/nothing"));
  EXPECT_EQ(r.status, 404);
  r = Http("GET", daemon_->url("/v1/score"));
  EXPECT_EQ(r.status, 405);
  // The daemon is still healthy and the rejections were counted.
  EXPECT_EQ(Http("POST", daemon_->url("/v1/score"), Records(2)).status, 200);
  r = Http("GET", daemon_->url("/metrics"));
  EXPECT_NE(r.body.find("{endpoint=\"score\",code=\"413\"} 1"), std::string::npos) << r.body;
}

TEST(ServeHttpPolicy, UnknownColumnsIgnoredAndCountedWhenConfigured) {
  const std::string conf = TempDir() + "/ignore.conf";
  ReplaceFile(conf, "unknown_column: IGNORE\n");
  ServeProcess d(Models().a, {"--config=" + conf});
  ASSERT_TRUE(d.started());
  HttpReply r = Http("POST", d.url("/v1/score"), R"({"records":[{"income":1,"shoe_size":42}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Http("GET", d.url("/metrics"));
  EXPECT_NE(r.body.find("sparrow_serve_unknown_columns_total 1"), std::string::npos) << r.body;
}

TEST(ServeHttpPolicy, BearerTokensForAdminAndScoring) {
  const std::string conf = TempDir() + "/auth.conf";
  ReplaceFile(conf, "admin_token: \"s3cret-admin\"\nscore_token: \"s3cret-score\"\n");
  ServeProcess d(Models().a, {"--config=" + conf});
  ASSERT_TRUE(d.started());
  const std::string body = "{\"records\":[" + DemoRecord(1) + "]}";
  EXPECT_EQ(Http("POST", d.url("/v1/score"), body).status, 401);
  EXPECT_EQ(Http("POST", d.url("/v1/score"), body, {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(Http("POST", d.url("/v1/score"), body, {"Authorization: Bearer s3cret-scorex"}).status,
            401);
  EXPECT_EQ(Http("POST", d.url("/v1/score"), body, {"Authorization: Bearer s3cret-score"}).status,
            200);
  EXPECT_EQ(
      Http("POST", d.url("/v1/admin/reload"), "", {"Authorization: Bearer s3cret-score"}).status,
      401);
  EXPECT_EQ(
      Http("POST", d.url("/v1/admin/reload"), "", {"Authorization: Bearer s3cret-admin"}).status,
      200);
  EXPECT_EQ(Http("GET", d.url("/healthz")).status, 200);  // probes stay open
}

TEST(ServeHttpOutputs, ScorecardPoints) {
  const std::string conf = TempDir() + "/card.conf";
  ReplaceFile(conf, "scorecard { base_score: 600 base_odds: 50 pdo: 20 }\n");
  ServeProcess d(Models().a, {"--config=" + conf});
  ASSERT_TRUE(d.started());
  HttpReply r = Http("POST", d.url("/v1/score"), Records(3));
  ASSERT_EQ(r.status, 200) << r.body;
  const json reply = json::parse(r.body);
  ASSERT_EQ(reply["results"].size(), 3u);
  for (const json& res : reply["results"]) {
    const double p = res["score"], points = res["points"];
    // points = offset + factor ln(odds of good): odds 50 -> 600, doubling -> +20.
    const double factor = 20 / std::log(2.0), offset = 600 - factor * std::log(50.0);
    EXPECT_NEAR(points, offset + factor * std::log((1 - p) / p), 1e-3);
  }
}

// A request whose headers are in but whose body is still arriving holds a pending slot.
int OpenPartialRequest(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const std::string head =
      "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 200\r\n\r\n{\"records\":[";
  EXPECT_EQ(write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  return fd;
}

TEST(ServeHttpOverload, ShedsWith503AndRetryAfter) {
  ServeProcess d(Models().a, {"--max_pending=2"});
  ASSERT_TRUE(d.started());
  const int a = OpenPartialRequest(d.port()), b = OpenPartialRequest(d.port());
  // Both slow requests are admitted once the daemon has read their headers.
  ASSERT_TRUE(WaitFor([&] {
    return Http("GET", d.url("/metrics")).body.find("sparrow_serve_pending 2") != std::string::npos;
  }));
  HttpReply r = Http("POST", d.url("/v1/score"), "{\"records\":[" + DemoRecord(0) + "]}");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.headers.find("Retry-After: 1"), std::string::npos) << r.headers;
  close(a);
  close(b);
  EXPECT_TRUE(WaitFor([&] {
    return Http("POST", d.url("/v1/score"), "{\"records\":[" + DemoRecord(0) + "]}").status == 200;
  }));
}

}  // namespace
}  // namespace sparrow::serve::testing
