#include "server/checkpoint_part.h"

#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "model_file/model_file.h"

namespace sparrow::server {
namespace {

constexpr size_t kChunk = 4096;  // rows a write or read: memory of a chunk, not a table

}  // namespace

TableSnapshot Snapshot(const Table& table) {
  TableSnapshot s;
  s.spec = table.spec();
  s.row_floats = table.row_floats();
  s.keys = table.Keys();
  s.rows.resize(s.keys.size() * s.row_floats);
  float* out = s.rows.data();
  for (uint64_t key : s.keys) {
    const float* row = table.Row(key);
    out = std::copy(row, row + s.row_floats, out);
  }
  s.pending_keys = table.PendingKeys();
  s.pending_counts.reserve(s.pending_keys.size());
  for (uint64_t key : s.pending_keys) s.pending_counts.push_back(table.PendingCount(key));
  return s;
}

Status WriteCheckpointPart(const std::string& path, const std::vector<TableSnapshot>& tables,
                           uint64_t* bytes) {
  model::ModelHeader header;
  for (const TableSnapshot& t : tables) {
    const std::string spec = t.spec.SerializeAsString();
    model::TableInfo* info = header.add_tables();
    info->set_name(t.spec.name());
    info->set_id(t.spec.id());
    info->set_width(t.row_floats);
    info->set_rows(t.keys.size());
    info->set_table_spec(spec);
    if (t.spec.min_count() > 1) {
      model::TableInfo* c = header.add_tables();
      c->set_name(t.spec.name() + ".counts");
      c->set_id(t.spec.id());
      c->set_width(1);
      c->set_rows(t.pending_keys.size());
      c->set_table_spec(spec);
      c->set_counts(true);
    }
  }
  SPARROW_ASSIGN_OR_RETURN(auto writer, model_file::ModelWriter::Open(path, header));
  for (const TableSnapshot& t : tables) {
    for (size_t at = 0; at < t.keys.size(); at += kChunk) {
      const size_t n = std::min(kChunk, t.keys.size() - at);
      SPARROW_RETURN_IF_ERROR(
          writer->Append(t.keys.data() + at, t.rows.data() + at * t.row_floats, n));
    }
    if (t.spec.min_count() <= 1) continue;
    for (size_t at = 0; at < t.pending_keys.size(); at += kChunk) {
      const size_t n = std::min(kChunk, t.pending_keys.size() - at);
      SPARROW_RETURN_IF_ERROR(
          writer->Append(t.pending_keys.data() + at, t.pending_counts.data() + at, n));
    }
  }
  SPARROW_RETURN_IF_ERROR(writer->Commit());
  std::error_code ec;
  *bytes = std::filesystem::file_size(path, ec);
  return Status::Ok();
}

Status RestoreCheckpoint(const std::string& dir, uint64_t key_begin, uint64_t key_end,
                         const std::function<Result<Table*>(const wire::TableSpec&)>& table_for) {
  SPARROW_ASSIGN_OR_RETURN(checkpoint::Manifest m, checkpoint::ReadManifest(dir));
  std::vector<uint64_t> keys;
  std::vector<float> rows;
  for (const auto& file : m.files()) {
    const std::string path = dir + "/" + file.name();
    SPARROW_ASSIGN_OR_RETURN(auto reader, model_file::ModelReader::Open(path));
    for (int t = 0; t < reader->header().tables_size(); ++t) {
      const model::TableInfo& info = reader->header().tables(t);
      wire::TableSpec spec;
      if (!spec.ParseFromString(info.table_spec())) {
        return DataLoss(path + ": table '" + info.name() + "' has no readable spec");
      }
      Result<Table*> table = table_for(spec);
      if (!table.ok()) return table.status().WithContext(path);
      const uint32_t width = info.counts() ? 1 : (*table)->row_floats();
      if (info.width() != width) {
        return DataLoss(path + ": table '" + info.name() + "' rows hold " +
                        std::to_string(info.width()) + " floats, its spec gives " +
                        std::to_string(width));
      }
      for (;;) {
        SPARROW_ASSIGN_OR_RETURN(size_t n, reader->Next(kChunk, &keys, &rows));
        if (n == 0) break;
        for (size_t j = 0; j < n; ++j) {
          if (keys[j] < key_begin || keys[j] > key_end) continue;  // another server's range
          if (info.counts()) {
            (*table)->RestoreCount(keys[j], rows[j]);
          } else {
            (*table)->RestoreRow(keys[j], rows.data() + j * width);
          }
        }
      }
    }
    SPARROW_RETURN_IF_ERROR(reader->Finish());
  }
  return Status::Ok();
}

}  // namespace sparrow::server
