// Which server holds which of a request's keys.
//
// Servers own contiguous ranges of the 64-bit key space, in rank order (the scheduler's
// node table: cluster/node_table.h); a request's keys are sorted, so each slice's keys
// fall to the servers in runs, found by binary search at each range's end.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proto/wire.pb.h"

namespace sparrow::worker {

// One slice's keys at one server: keys[offset, offset + count) of the slice.
struct KeyRange {
  size_t offset;
  size_t count;
  uint32_t width;  // floats per key
  float* out;      // where a pull's rows go (out + offset * width); null for a push
};

// One server's share of a request: a KeyRange per slice (possibly empty), in slice order.
struct ServerRoute {
  int server_id;
  std::vector<KeyRange> ranges;
};

// Cuts each slice's keys (ascending) at the servers' range ends. `servers` are in key
// order and cover the key space; `widths` has one entry per slice, `outs` one per slice
// or none. Servers that get no key of any slice are left out.
std::vector<ServerRoute> RouteKeys(const std::vector<wire::NodeInfo>& servers,
                                   const std::vector<const std::vector<uint64_t>*>& keys,
                                   const std::vector<uint32_t>& widths,
                                   const std::vector<float*>& outs);

}  // namespace sparrow::worker
