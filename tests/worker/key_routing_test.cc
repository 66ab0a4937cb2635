// RouteKeys: every key of every slice goes to exactly the server whose range holds it, in
// order, and servers that get nothing are left out.
#include "worker/key_routing.h"

#include <gtest/gtest.h>

#include <random>

#include "cluster/node_table.h"

namespace sparrow::worker {
namespace {

std::vector<wire::NodeInfo> Servers(int n) {
  std::vector<wire::NodeInfo> servers(n);
  for (int r = 0; r < n; ++r) {
    uint64_t b, e;
    cluster::SplitKeySpace(n, r, &b, &e);
    servers[r].set_id(10 + r);
    servers[r].set_rank(r);
    servers[r].set_key_begin(b);
    servers[r].set_key_end(e);
  }
  return servers;
}

TEST(KeyRoutingTest, EveryKeyGoesToTheServerWhoseRangeHoldsIt) {
  const auto servers = Servers(3);
  std::mt19937_64 rng(5);
  std::vector<std::vector<uint64_t>> slices(2);
  for (auto& s : slices) {
    for (int i = 0; i < 1000; ++i) s.push_back(rng());
    s.push_back(0);
    s.push_back(~0ull);
    s.push_back(servers[1].key_begin());
    s.push_back(servers[1].key_end());
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
  }
  float out0[1], out1[1];
  const auto routes =
      RouteKeys(servers, {&slices[0], &slices[1]}, {1, 4}, std::vector<float*>{out0, out1});
  ASSERT_EQ(routes.size(), 3u);
  for (size_t i = 0; i < slices.size(); ++i) {
    size_t next = 0;  // the ranges of a slice tile it, in server order
    for (size_t r = 0; r < routes.size(); ++r) {
      const auto& server = servers[r];
      EXPECT_EQ(routes[r].server_id, server.id());
      const KeyRange& k = routes[r].ranges[i];
      EXPECT_EQ(k.offset, next);
      EXPECT_EQ(k.width, i == 0 ? 1u : 4u);
      EXPECT_EQ(k.out, i == 0 ? out0 : out1);
      for (size_t j = k.offset; j < k.offset + k.count; ++j) {
        EXPECT_GE(slices[i][j], server.key_begin());
        EXPECT_LE(slices[i][j], server.key_end());
      }
      next += k.count;
    }
    EXPECT_EQ(next, slices[i].size());
  }
}

TEST(KeyRoutingTest, ServersWithNoKeysAreLeftOutAndPushesHaveNoOutput) {
  const auto servers = Servers(4);
  // Keys only in the ranges of servers 0 and 2.
  std::vector<uint64_t> keys = {servers[0].key_begin() + 1, servers[2].key_begin(),
                                servers[2].key_end()};
  const auto routes = RouteKeys(servers, {&keys}, {1}, {});
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].server_id, servers[0].id());
  EXPECT_EQ(routes[0].ranges[0].count, 1u);
  EXPECT_EQ(routes[1].server_id, servers[2].id());
  EXPECT_EQ(routes[1].ranges[0].offset, 1u);
  EXPECT_EQ(routes[1].ranges[0].count, 2u);
  EXPECT_EQ(routes[1].ranges[0].out, nullptr);
  std::vector<uint64_t> none;
  EXPECT_TRUE(RouteKeys(servers, {&none}, {1}, {}).empty());
}

}  // namespace
}  // namespace sparrow::worker
