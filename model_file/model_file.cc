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

ModelReader::~ModelReader() {
  if (f_ != nullptr) std::fclose(f_);
}

Result<std::unique_ptr<ModelReader>> ModelReader::Open(const std::string& path) {
  std::unique_ptr<ModelReader> r(new ModelReader());
  r->path_ = path;
  r->f_ = std::fopen(path.c_str(), "rb");
  if (r->f_ == nullptr) return NotFound("cannot open model " + path + ": " + Errno());
  SPARROW_RETURN_IF_ERROR(ReadHead(r->f_, path, &r->header_, &r->crc_));
  for (const auto& t : r->header_.tables()) {
    if (t.width() == 0 || t.width() > 1 << 16) {
      return DataLoss(path + ": table '" + t.name() + "' has width " + std::to_string(t.width()));
    }
  }
  if (r->header_.tables_size() > 0) r->left_ = r->header_.tables(0).rows();
  return r;
}

Result<size_t> ModelReader::Next(size_t max_rows, std::vector<uint64_t>* keys,
                                 std::vector<float>* weights) {
  keys->clear();
  weights->clear();
  if (table_ >= static_cast<size_t>(header_.tables_size())) return size_t{0};
  const auto& t = header_.tables(static_cast<int>(table_));
  if (left_ == 0) {  // this table is done: the caller moves on
    if (++table_ < static_cast<size_t>(header_.tables_size())) {
      left_ = header_.tables(static_cast<int>(table_)).rows();
    }
    return size_t{0};
  }
  const size_t rec = 8 + 4 * static_cast<size_t>(t.width());
  const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, max_rows));
  buf_.resize(rec * n);
  if (std::fread(buf_.data(), rec, n, f_) != n) {
    return DataLoss(path_ + ": truncated: table '" + t.name() + "' declares " +
                    std::to_string(t.rows()) + " rows, file ends after " +
                    std::to_string(t.rows() - left_) + "+");
  }
  crc_ = Crc32cExtend(crc_, buf_.data(), rec * n);
  const bool first = left_ == t.rows();
  keys->resize(n);
  weights->resize(n * t.width());
  for (size_t i = 0; i < n; ++i) {
    std::memcpy(&(*keys)[i], buf_.data() + i * rec, 8);
    std::memcpy(weights->data() + i * t.width(), buf_.data() + i * rec + 8, 4 * t.width());
    const bool ordered = i > 0 ? (*keys)[i] > (*keys)[i - 1] : (first || (*keys)[0] > last_key_);
    if (!ordered) return DataLoss(path_ + ": table '" + t.name() + "' keys out of order");
  }
  last_key_ = keys->back();
  left_ -= n;
  return n;
}

Status ModelReader::Finish() {
  if (table_ < static_cast<size_t>(header_.tables_size()) &&
      !(table_ + 1 == static_cast<size_t>(header_.tables_size()) && left_ == 0)) {
    return FailedPrecondition(path_ + ": Finish before every row was read");
  }
  uint32_t stored = 0;
  if (std::fread(&stored, 4, 1, f_) != 1) return DataLoss(path_ + ": truncated before the CRC");
  if (stored != crc_) return DataLoss(path_ + ": CRC mismatch (file corrupt)");
  char extra;
  if (std::fread(&extra, 1, 1, f_) == 1) return DataLoss(path_ + ": trailing bytes after the CRC");
  return Status::Ok();
}

Result<ModelData> ReadModel(const std::string& path) {
  SPARROW_ASSIGN_OR_RETURN(auto reader, ModelReader::Open(path));
  ModelData m;
  m.header = reader->header();
  std::vector<uint64_t> keys;
  std::vector<float> weights;
  for (const auto& t : m.header.tables()) {
    ModelData::Table table;
    table.width = t.width();
    table.keys.reserve(t.rows());
    table.weights.reserve(t.rows() * t.width());
    for (;;) {
      SPARROW_ASSIGN_OR_RETURN(size_t n, reader->Next(4096, &keys, &weights));
      if (n == 0) break;
      table.keys.insert(table.keys.end(), keys.begin(), keys.end());
      table.weights.insert(table.weights.end(), weights.begin(), weights.end());
    }
    m.tables.push_back(std::move(table));
  }
  SPARROW_RETURN_IF_ERROR(reader->Finish());
  return m;
}

}  // namespace sparrow::model_file
