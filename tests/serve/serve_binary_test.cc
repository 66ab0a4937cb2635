// The binary endpoint (Protobuf over ZeroMQ): raw records score as over HTTP, pre-hashed
// rows score as their records do, bad requests get an error, REQ and DEALER clients work.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "core/hash.h"
#include "proto/serve.pb.h"
#include "tests/serve/serve_harness.h"

namespace sparrow::serve::testing {
namespace {

ScoreResponse Call(zmq::socket_t& s, const std::string& payload) {
  s.send(zmq::buffer(payload), zmq::send_flags::none);
  zmq::message_t m;
  EXPECT_TRUE(s.recv(m));
  ScoreResponse resp;
  EXPECT_TRUE(resp.ParseFromArray(m.data(), static_cast<int>(m.size())));
  return resp;
}

TEST(ServeBinary, RecordsRowsAndErrors) {
  ServeProcess d(Models().a, {});
  ASSERT_TRUE(d.started());
  ASSERT_FALSE(d.binary().empty());
  zmq::context_t ctx(1);
  zmq::socket_t req(ctx, zmq::socket_type::req);
  req.set(zmq::sockopt::rcvtimeo, 10000);
  req.connect(d.binary());

  // Categorical columns only: the numeric ones are missing, key(name, "").
  ScoreRequest r;
  r.set_id(7);
  r.set_explain(2);
  Record* rec = r.add_records();
  const std::pair<const char*, const char*> cats[] = {
      {"city", "v1"}, {"merchant", "v36"}, {"channel", "v2"}, {"product", "v6"}};
  for (const auto& [name, value] : cats) {
    Value* v = rec->add_values();
    v->set_name(name);
    v->set_text(value);
  }
  ScoreResponse resp = Call(req, r.SerializeAsString());
  ASSERT_TRUE(resp.error().empty()) << resp.error();
  EXPECT_EQ(resp.id(), 7u);
  ASSERT_EQ(resp.scores_size(), 1);
  ASSERT_EQ(resp.results_size(), 1);
  EXPECT_EQ(resp.results(0).reasons_size(), 2);

  // The same record over HTTP.
  HttpReply h =
      Http("POST", d.url("/v1/score"),
           R"({"records":[{"city":"v1","merchant":"v36","channel":"v2","product":"v6"}]})");
  ASSERT_EQ(h.status, 200);
  const float http_score = nlohmann::json::parse(h.body)["results"][0]["score"];
  EXPECT_EQ(static_cast<float>(resp.scores(0)), http_score);
  EXPECT_EQ(nlohmann::json::parse(h.body)["version"], resp.version());

  // Pre-hashed: keys as docs/data.md defines them (hash seed 0), in spec order.
  ScoreRequest rows;
  SparseRows* sr = rows.mutable_rows();
  sr->add_row_offsets(0);
  for (const char* numeric : {"income", "age", "utilization", "late_payments"}) {
    sr->add_keys(FeatureKey(0, numeric, ""));
  }
  for (const auto& [name, value] : cats) sr->add_keys(FeatureKey(0, name, value));
  sr->add_row_offsets(static_cast<uint64_t>(sr->keys_size()));
  resp = Call(req, rows.SerializeAsString());
  ASSERT_TRUE(resp.error().empty()) << resp.error();
  ASSERT_EQ(resp.scores_size(), 1);
  EXPECT_EQ(static_cast<float>(resp.scores(0)), http_score);

  // Rejections come back as errors, and the endpoint keeps serving.
  resp = Call(req, "not a protobuf \xff\xff");
  EXPECT_NE(resp.error().find("malformed"), std::string::npos);
  ScoreRequest bad;
  bad.mutable_rows()->add_row_offsets(0);
  bad.mutable_rows()->add_row_offsets(5);
  resp = Call(req, bad.SerializeAsString());
  EXPECT_NE(resp.error().find("row_offsets"), std::string::npos) << resp.error();
  ScoreRequest unknown;
  Value* v = unknown.add_records()->add_values();
  v->set_name("shoe_size");
  v->set_number(42);
  resp = Call(req, unknown.SerializeAsString());
  EXPECT_NE(resp.error().find("record 0: column 'shoe_size': unknown column"), std::string::npos)
      << resp.error();

  // A DEALER may pipeline; replies come back in order.
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::rcvtimeo, 10000);
  dealer.connect(d.binary());
  for (int i = 0; i < 10; ++i) {
    r.set_id(static_cast<uint64_t>(100 + i));
    dealer.send(zmq::buffer(r.SerializeAsString()), zmq::send_flags::none);
  }
  for (int i = 0; i < 10; ++i) {
    zmq::message_t m;
    ASSERT_TRUE(dealer.recv(m));
    ScoreResponse got;
    ASSERT_TRUE(got.ParseFromArray(m.data(), static_cast<int>(m.size())));
    EXPECT_EQ(got.id(), static_cast<uint64_t>(100 + i));
  }
}

}  // namespace
}  // namespace sparrow::serve::testing
