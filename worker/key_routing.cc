#include "worker/key_routing.h"

#include <algorithm>

namespace sparrow::worker {

std::vector<ServerRoute> RouteKeys(const std::vector<wire::NodeInfo>& servers,
                                   const std::vector<const std::vector<uint64_t>*>& keys,
                                   const std::vector<uint32_t>& widths,
                                   const std::vector<float*>& outs) {
  std::vector<ServerRoute> routes;
  std::vector<size_t> begin(keys.size(), 0);
  for (const auto& s : servers) {
    ServerRoute r{s.id(), {}};
    bool any = false;
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::vector<uint64_t>& k = *keys[i];
      // Keys <= key_end belong to this server or an earlier one.
      const size_t end = std::upper_bound(k.begin() + begin[i], k.end(), s.key_end()) - k.begin();
      r.ranges.push_back({begin[i], end - begin[i], widths[i], outs.empty() ? nullptr : outs[i]});
      any = any || end > begin[i];
      begin[i] = end;
    }
    if (any) routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace sparrow::worker
