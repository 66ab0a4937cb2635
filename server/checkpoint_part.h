// A server's part of a checkpoint (checkpoint/checkpoint.h): its rows of the model's
// tables with their optimizer state, and the admission counts of keys not admitted yet.
//
// The part is a model file (model_file/model_file.h) whose header lists, per server table,
// a table of full rows (TableInfo.width = Table::row_floats(), TableInfo.table_spec = the
// table's wire.TableSpec) and, when the table admits keys by count, a table of counts
// (TableInfo.counts, width 1). Reading costs one chunk of rows.
//
// Thread safety: Snapshot and RestoreCheckpoint on the thread that owns the tables (the
// server's request thread); WriteCheckpointPart on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/table.h"

namespace sparrow::server {

// A table's whole state, copied out of it, so the part can be written while the table
// trains on. Costs the table's rows once more in memory for as long as the write takes.
struct TableSnapshot {
  wire::TableSpec spec;
  uint32_t row_floats = 0;
  std::vector<uint64_t> keys;          // ascending
  std::vector<float> rows;             // keys.size() x row_floats: weights, then optimizer state
  std::vector<uint64_t> pending_keys;  // counted towards admission, no row yet; ascending
  std::vector<float> pending_counts;
};
TableSnapshot Snapshot(const Table& table);

// Writes the snapshots to `path` (temporary file, fsync, rename). *bytes: the file's size.
Status WriteCheckpointPart(const std::string& path, const std::vector<TableSnapshot>& tables,
                           uint64_t* bytes);

// Restores every part of the checkpoint in `dir` (as its manifest lists them), keeping the
// keys in [key_begin, key_end]: a server may restore a checkpoint written by any number of
// servers. `table_for(spec)` returns the table to fill for a spec (creating it).
// A corrupt part is DataLoss naming it; the tables may then hold part of the checkpoint.
Status RestoreCheckpoint(const std::string& dir, uint64_t key_begin, uint64_t key_end,
                         const std::function<Result<Table*>(const wire::TableSpec&)>& table_for);

}  // namespace sparrow::server
