// The node table every node receives from the scheduler: who is who, where, and which key
// range each server owns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/wire.pb.h"

namespace sparrow::cluster {

inline constexpr int kSchedulerId = 0;

struct NodeTable {
  std::vector<wire::NodeInfo> servers;  // by rank; key ranges ascending and contiguous
  std::vector<wire::NodeInfo> workers;  // by rank
  int max_delay = -1;                   // consistency bound for the whole cluster

  const wire::NodeInfo* Find(int id) const;
  static NodeTable FromControl(const wire::Control& c);
};

// Splits the 64-bit key space into `n` contiguous ranges of equal width; range i is
// [begin, end] inclusive. Keys are hashes, so equal widths hold equal shares.
void SplitKeySpace(int n, int i, uint64_t* begin, uint64_t* end);

}  // namespace sparrow::cluster
