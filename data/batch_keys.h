// The sorted unique keys of a batch: what a worker pulls and pushes.
//
// Training dedupes keys once per batch (a popular feature appears in most rows), pulls the
// unique keys, and addresses the pulled rows through `slot`. This lives beside the batch
// rather than in the reader so readers stay cheap when the consumer does not need it
// (conversion, evaluation).
//
// Cost: O(nnz) to number the keys (data/key_numbering.h), then a bucket sort of the
// distinct ones; buffers are the caller's and reused, so steady state allocates
// nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "data/batch.h"

namespace sparrow::data {

// Fills *unique with the batch's distinct keys in ascending order and, if slot is not
// null, *slot with keys.size() entries: (*unique)[(*slot)[i]] == batch.keys[i].
void UniqueKeys(const Batch& batch, std::vector<uint64_t>* unique, std::vector<uint32_t>* slot);

// The same for dense ids (data::RowStore's key ids): fills *unique with the distinct values
// of ids[0 .. n) in ascending order and *slot with n entries: (*unique)[(*slot)[i]] ==
// ids[i]. Every id must be below `universe`. A bitmap over the ids both dedupes and sorts
// them; the bitmap is scanned whole when it has at most 8 words per id (O(n + universe /
// 64)), else the distinct ids are sorted. Scratch (a bit and, up to 2^22 ids, 4 bytes per
// id of the universe) is per thread and reused.
void UniqueIds(const uint32_t* ids, size_t n, uint32_t universe, std::vector<uint32_t>* unique,
               std::vector<uint32_t>* slot);

}  // namespace sparrow::data
