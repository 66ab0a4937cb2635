#include "model_file/model_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/crc32c.h"

namespace sparrow::model_file {
namespace {

std::string Errno() {
  return std::strerror(errno);
}

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

}  // namespace

ModelWriter::~ModelWriter() {
  if (f_ != nullptr) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

Result<std::unique_ptr<ModelWriter>> ModelWriter::Open(const std::string& path,
                                                       const model::ModelHeader& header) {
  std::unique_ptr<ModelWriter> w(new ModelWriter());
  w->path_ = path;
  w->tmp_ = path + ".tmp-" + std::to_string(getpid());
  w->header_ = header;
  w->header_.set_format_version(kModelFormatVersion);
  w->f_ = std::fopen(w->tmp_.c_str(), "wb");
  if (w->f_ == nullptr) return Unavailable("cannot create " + w->tmp_ + ": " + Errno());
  SPARROW_RETURN_IF_ERROR(w->Write(kMagic, sizeof(kMagic), /*crc=*/false));
  const std::string h = w->header_.SerializeAsString();
  const uint32_t version = kModelFormatVersion, len = static_cast<uint32_t>(h.size());
  SPARROW_RETURN_IF_ERROR(w->Write(&version, 4));
  SPARROW_RETURN_IF_ERROR(w->Write(&len, 4));
  SPARROW_RETURN_IF_ERROR(w->Write(h.data(), h.size()));
  return w;
}

Status ModelWriter::Write(const void* p, size_t n, bool crc) {
  if (n == 0) return Status::Ok();
  if (std::fwrite(p, 1, n, f_) != n) return Unavailable("write " + tmp_ + ": " + Errno());
  if (crc) crc_ = Crc32cExtend(crc_, p, n);
  return Status::Ok();
}

Status ModelWriter::Append(const uint64_t* keys, const float* weights, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    while (table_ < static_cast<size_t>(header_.tables_size()) &&
           written_ == header_.tables(table_).rows()) {
      ++table_;
      written_ = 0;
    }
    if (table_ >= static_cast<size_t>(header_.tables_size())) {
      return InvalidArgument(path_ + ": more rows appended than the header declares");
    }
    if (written_ > 0 && keys[i] <= last_key_) {
      return InvalidArgument(path_ + ": rows of table '" + header_.tables(table_).name() +
                             "' not in ascending key order");
    }
    const uint32_t width = header_.tables(table_).width();
    SPARROW_RETURN_IF_ERROR(Write(&keys[i], 8));
    SPARROW_RETURN_IF_ERROR(Write(weights + i * width, width * sizeof(float)));
    last_key_ = keys[i];
    ++written_;
  }
  return Status::Ok();
}

Status ModelWriter::Commit() {
  uint64_t want = 0, got = 0;
  for (int t = 0; t < header_.tables_size(); ++t) {
    want += header_.tables(t).rows();
    if (static_cast<size_t>(t) < table_) got += header_.tables(t).rows();
  }
  got += written_;
  if (got != want) {
    return InvalidArgument(path_ + ": " + std::to_string(got) + " rows written, header declares " +
                           std::to_string(want));
  }
  const uint32_t crc = crc_;
  SPARROW_RETURN_IF_ERROR(Write(&crc, 4, /*crc=*/false));
  if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0) {
    return Unavailable("flush " + tmp_ + ": " + Errno());
  }
  std::fclose(f_);
  f_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string e = Errno();
    std::remove(tmp_.c_str());
    return Unavailable("rename " + tmp_ + " to " + path_ + ": " + e);
  }
  return Status::Ok();
}

namespace {

// Reads magic, version and header; leaves `f` at the first row. *crc covers what was read.
Status ReadHead(FILE* f, const std::string& path, model::ModelHeader* header, uint32_t* crc) {
  char magic[8];
  if (std::fread(magic, 1, 8, f) != 8 || std::memcmp(magic, kMagic, 8) != 0) {
    return DataLoss(path + ": not a Sparrow model file (bad magic)");
  }
  uint32_t version = 0, len = 0;
  if (std::fread(&version, 4, 1, f) != 1) return DataLoss(path + ": truncated in the header");
  if (version != kModelFormatVersion) {
    return DataLoss(path + ": model format version " + std::to_string(version) +
                    ", this build reads version " + std::to_string(kModelFormatVersion));
  }
  if (std::fread(&len, 4, 1, f) != 1) return DataLoss(path + ": truncated in the header");
  if (len > (64u << 20))
    return DataLoss(path + ": header length " + std::to_string(len) + " is implausible");
  std::string h(len, '\0');
  if (std::fread(h.data(), 1, len, f) != len) return DataLoss(path + ": truncated in the header");
  if (!header->ParseFromString(h)) return DataLoss(path + ": header does not parse");
  *crc = Crc32cExtend(0, &version, 4);
  *crc = Crc32cExtend(*crc, &len, 4);
  *crc = Crc32cExtend(*crc, h.data(), h.size());
  return Status::Ok();
}

}  // namespace

Result<model::ModelHeader> ReadModelHeader(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return NotFound("cannot open model " + path + ": " + Errno());
  model::ModelHeader h;
  uint32_t crc;
  SPARROW_RETURN_IF_ERROR(ReadHead(f.get(), path, &h, &crc));
  return h;
}

Result<ModelData> ReadModel(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return NotFound("cannot open model " + path + ": " + Errno());
  ModelData m;
  uint32_t crc = 0;
  SPARROW_RETURN_IF_ERROR(ReadHead(f.get(), path, &m.header, &crc));
  for (const auto& t : m.header.tables()) {
    if (t.width() == 0 || t.width() > 1 << 16) {
      return DataLoss(path + ": table '" + t.name() + "' has width " + std::to_string(t.width()));
    }
    ModelData::Table table;
    table.width = t.width();
    const size_t rec = 8 + 4 * static_cast<size_t>(t.width());
    std::vector<char> buf(rec * 4096);
    uint64_t left = t.rows();
    table.keys.reserve(left);
    table.weights.reserve(left * t.width());
    while (left > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, 4096));
      if (std::fread(buf.data(), rec, n, f.get()) != n) {
        return DataLoss(path + ": truncated: table '" + t.name() + "' declares " +
                        std::to_string(t.rows()) + " rows, file ends after " +
                        std::to_string(t.rows() - left) + "+");
      }
      crc = Crc32cExtend(crc, buf.data(), rec * n);
      for (size_t i = 0; i < n; ++i) {
        uint64_t key;
        std::memcpy(&key, buf.data() + i * rec, 8);
        if (!table.keys.empty() && key <= table.keys.back()) {
          return DataLoss(path + ": table '" + t.name() + "' keys out of order");
        }
        table.keys.push_back(key);
        const size_t old = table.weights.size();
        table.weights.resize(old + t.width());
        std::memcpy(table.weights.data() + old, buf.data() + i * rec + 8, 4 * t.width());
      }
      left -= n;
    }
    m.tables.push_back(std::move(table));
  }
  uint32_t stored = 0;
  if (std::fread(&stored, 4, 1, f.get()) != 1) return DataLoss(path + ": truncated before the CRC");
  if (stored != crc) return DataLoss(path + ": CRC mismatch (file corrupt)");
  char extra;
  if (std::fread(&extra, 1, 1, f.get()) == 1)
    return DataLoss(path + ": trailing bytes after the CRC");
  return m;
}

}  // namespace sparrow::model_file
