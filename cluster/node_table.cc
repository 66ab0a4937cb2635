#include "cluster/node_table.h"

#include <algorithm>

namespace sparrow::cluster {

void SplitKeySpace(int n, int i, uint64_t* begin, uint64_t* end) {
  const unsigned __int128 space = static_cast<unsigned __int128>(1) << 64;
  *begin = static_cast<uint64_t>(space * i / n);
  *end = static_cast<uint64_t>(space * (i + 1) / n - 1);
}

const wire::NodeInfo* NodeTable::Find(int id) const {
  for (const auto* list : {&servers, &workers}) {
    for (const auto& n : *list) {
      if (n.id() == id) return &n;
    }
  }
  return nullptr;
}

NodeTable NodeTable::FromControl(const wire::Control& c) {
  NodeTable t;
  for (const auto& n : c.nodes()) {
    if (n.role() == wire::SERVER) t.servers.push_back(n);
    if (n.role() == wire::WORKER) t.workers.push_back(n);
  }
  auto by_rank = [](const wire::NodeInfo& a, const wire::NodeInfo& b) {
    return a.rank() < b.rank();
  };
  std::sort(t.servers.begin(), t.servers.end(), by_rank);
  std::sort(t.workers.begin(), t.workers.end(), by_rank);
  t.max_delay = c.max_delay();
  return t;
}

}  // namespace sparrow::cluster
