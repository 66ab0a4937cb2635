#include "cluster/node_table.h"

#include <gtest/gtest.h>

namespace sparrow::cluster {
namespace {

TEST(NodeTableTest, RangesCoverTheKeySpaceExactly) {
  for (int n : {1, 2, 3, 7}) {
    uint64_t prev_end = 0;
    for (int i = 0; i < n; ++i) {
      uint64_t b, e;
      SplitKeySpace(n, i, &b, &e);
      if (i == 0)
        EXPECT_EQ(b, 0u);
      else
        EXPECT_EQ(b, prev_end + 1);
      EXPECT_LT(b, e);
      prev_end = e;
    }
    EXPECT_EQ(prev_end, ~0ull);
  }
}

TEST(NodeTableTest, ServersArriveOutOfOrderAndAreKeptByRank) {
  wire::Control c;
  for (int i = 0; i < 3; ++i) {
    auto* n = c.add_nodes();
    n->set_role(wire::SERVER);
    n->set_rank(2 - i);  // arrives out of order
    n->set_id(10 + i);
    uint64_t b, e;
    SplitKeySpace(3, 2 - i, &b, &e);
    n->set_key_begin(b);
    n->set_key_end(e);
  }
  NodeTable t = NodeTable::FromControl(c);
  ASSERT_EQ(t.servers.size(), 3u);
  // By rank, so their key ranges ascend: what RouteKeys (worker/key_routing.h) needs.
  for (int r = 0; r < 3; ++r) EXPECT_EQ(t.servers[r].rank(), r);
  for (int r = 1; r < 3; ++r) EXPECT_EQ(t.servers[r].key_begin(), t.servers[r - 1].key_end() + 1);
  EXPECT_EQ(t.Find(11)->rank(), 1);
}

}  // namespace
}  // namespace sparrow::cluster
