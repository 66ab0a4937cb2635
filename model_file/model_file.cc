#include "model_file/model_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

namespace {
constexpr size_t kWriteBuffer = 1 << 20;
}  // namespace

ModelWriter::~ModelWriter() {
  if (fd_ >= 0) {
    close(fd_);
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
  w->fd_ = open(w->tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (w->fd_ < 0) return Unavailable("cannot create " + w->tmp_ + ": " + Errno());
  w->buf_.reserve(kWriteBuffer);
  SPARROW_RETURN_IF_ERROR(w->Write(kMagic, sizeof(kMagic)));
  w->crc_from_ = sizeof(kMagic);
  const std::string h = w->header_.SerializeAsString();
  const uint32_t version = kModelFormatVersion, len = static_cast<uint32_t>(h.size());
  SPARROW_RETURN_IF_ERROR(w->Write(&version, 4));
  SPARROW_RETURN_IF_ERROR(w->Write(&len, 4));
  SPARROW_RETURN_IF_ERROR(w->Write(h.data(), h.size()));
  return w;
}

Status ModelWriter::Write(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const size_t take = std::min(n, kWriteBuffer - buf_.size());
    buf_.insert(buf_.end(), c, c + take);
    c += take;
    n -= take;
    if (buf_.size() == kWriteBuffer) SPARROW_RETURN_IF_ERROR(Flush());
  }
  return Status::Ok();
}

Status ModelWriter::Flush() {
  if (buf_.size() > crc_from_) {
    crc_ = Crc32cExtend(crc_, buf_.data() + crc_from_, buf_.size() - crc_from_);
  }
  crc_from_ = 0;
  for (size_t at = 0; at < buf_.size();) {
    const ssize_t n = write(fd_, buf_.data() + at, buf_.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable("write " + tmp_ + ": " + Errno());
    at += static_cast<size_t>(n);
  }
  buf_.clear();
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
  SPARROW_RETURN_IF_ERROR(Flush());
  const uint32_t crc = crc_;
  SPARROW_RETURN_IF_ERROR(Write(&crc, 4));
  crc_from_ = buf_.size();  // the CRC does not cover itself
  SPARROW_RETURN_IF_ERROR(Flush());
  if (fsync(fd_) != 0) return Unavailable("flush " + tmp_ + ": " + Errno());
  const int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) {
    const std::string e = Errno();
    std::remove(tmp_.c_str());
    return Unavailable("close " + tmp_ + ": " + e);
  }
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
