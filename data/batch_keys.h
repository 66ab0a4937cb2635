// The sorted unique keys of a batch: what a worker pulls and pushes.
//
// Training dedupes keys once per batch (a popular feature appears in most rows), pulls the
// unique keys, and addresses the pulled rows through `slot`. This lives beside the batch
// rather than in the reader so readers stay cheap when the consumer does not need it
// (conversion, evaluation).
//
// Cost: O(nnz log nnz); buffers are the caller's and reused, so steady state allocates
// nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "data/batch.h"

namespace sparrow::data {

// Fills *unique with the batch's distinct keys in ascending order and, if slot is not
// null, *slot with keys.size() entries: (*unique)[(*slot)[i]] == batch.keys[i].
void UniqueKeys(const Batch& batch, std::vector<uint64_t>* unique, std::vector<uint32_t>* slot);

}  // namespace sparrow::data
