// Batch: a block of rows in CSR form, what every reader produces and training consumes.
//
// Row r's features are keys[row_offsets[r] .. row_offsets[r+1]) with the values (and, for
// FFM, field ids) at the same positions. labels, weights and offsets have one entry per
// row; weights default to 1 and offsets (added to the margin, e.g. ln(exposure)) to 0, so
// consumers never test for presence. `fields` is empty unless the source has fields
// (LIBFFM, CSV, Criteo, cache of those); then it is as long as `keys`.
//
// Keys within a row are in the order the row gave them and may repeat; the batch's sorted
// unique keys for a pull come from UniqueKeys() (data/batch_keys.h).
//
// A Batch is reused: Clear() keeps capacity, so a reader that refills the same Batch
// allocates nothing once it has grown to its largest block.
//
// Thread safety: a value type; one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sparrow::data {

struct Batch {
  std::vector<uint64_t> row_offsets{0};  // rows() + 1 entries; row_offsets[0] == 0
  std::vector<uint64_t> keys;
  std::vector<float> values;
  std::vector<uint32_t> fields;  // keys.size() entries if has_fields, else empty
  std::vector<float> labels;
  std::vector<float> weights;
  std::vector<float> offsets;

  // Whether `fields` is filled (then fields.size() == keys.size()). Set by the producer
  // before the first row; an empty batch still says what it will hold.
  bool has_fields = false;

  size_t rows() const { return labels.size(); }
  size_t nnz() const { return keys.size(); }
  bool empty() const { return labels.empty(); }

  // Empties the batch, keeping capacity and has_fields.
  void Clear();

  // Appends row r of `src`, which must agree on has_fields.
  void AppendRow(const Batch& src, size_t r);
  // Appends rows [begin, end) of `src`.
  void AppendRows(const Batch& src, size_t begin, size_t end);

  // Checks the invariants above; returns false on the first violation. For tests and for
  // data decoded from untrusted bytes.
  bool Valid() const;

  bool operator==(const Batch& o) const;
};

}  // namespace sparrow::data
