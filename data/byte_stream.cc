#include "data/byte_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace sparrow::data {
namespace {

constexpr size_t kInBufBytes = 1 << 18;

class FileStream : public ByteStream {
 public:
  FileStream(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~FileStream() override { ::close(fd_); }
  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return DataLoss(path_ + ": read failed: " + std::strerror(errno));
    }
  }

 private:
  int fd_;
  std::string path_;
};

class MemoryStream : public ByteStream {
 public:
  explicit MemoryStream(std::string_view bytes) : rest_(bytes) {}
  Result<size_t> Read(char* buf, size_t n) override {
    n = std::min(n, rest_.size());
    if (n > 0) std::memcpy(buf, rest_.data(), n);
    rest_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view rest_;
};

// Gzip, including files of several concatenated members (what `cat a.gz b.gz` makes).
class GzipStream : public ByteStream {
 public:
  GzipStream(std::unique_ptr<ByteStream> in, std::string name)
      : in_(std::move(in)), name_(std::move(name)), buf_(kInBufBytes) {
    std::memset(&z_, 0, sizeof(z_));
    inflateInit2(&z_, 15 + 16);
  }
  ~GzipStream() override { inflateEnd(&z_); }

  Result<size_t> Read(char* out, size_t n) override {
    z_.next_out = reinterpret_cast<Bytef*>(out);
    z_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0 && !eof_) {
        SPARROW_ASSIGN_OR_RETURN(size_t got, in_->Read(buf_.data(), buf_.size()));
        if (got == 0) eof_ = true;
        z_.next_in = reinterpret_cast<Bytef*>(buf_.data());
        z_.avail_in = static_cast<uInt>(got);
      }
      if (z_.avail_in == 0 && eof_) {
        if (in_member_) return DataLoss(name_ + ": truncated gzip stream");
        break;
      }
      in_member_ = true;
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        inflateReset(&z_);
      } else if (rc == Z_BUF_ERROR) {
        if (eof_ && z_.avail_in == 0) return DataLoss(name_ + ": truncated gzip stream");
      } else if (rc != Z_OK) {
        return DataLoss(name_ + ": corrupt gzip stream: " + (z_.msg ? z_.msg : "inflate error"));
      }
    }
    return n - z_.avail_out;
  }

 private:
  std::unique_ptr<ByteStream> in_;
  std::string name_;
  std::vector<char> buf_;
  z_stream z_;
  bool eof_ = false;
  bool in_member_ = false;  // inside a member whose end we have not seen
};

class ZstdStream : public ByteStream {
 public:
  ZstdStream(std::unique_ptr<ByteStream> in, std::string name)
      : in_(std::move(in)), name_(std::move(name)), buf_(kInBufBytes), z_(ZSTD_createDStream()) {
    ZSTD_initDStream(z_);
  }
  ~ZstdStream() override { ZSTD_freeDStream(z_); }

  Result<size_t> Read(char* out, size_t n) override {
    ZSTD_outBuffer ob{out, n, 0};
    while (ob.pos < ob.size) {
      if (zin_.pos == zin_.size && !eof_) {
        SPARROW_ASSIGN_OR_RETURN(size_t got, in_->Read(buf_.data(), buf_.size()));
        if (got == 0) eof_ = true;
        zin_ = ZSTD_inBuffer{buf_.data(), got, 0};
      }
      if (zin_.pos == zin_.size && eof_) {
        // Flush what the decoder still holds; a frame left open is a truncated file.
        size_t before = ob.pos;
        size_t rc = ZSTD_decompressStream(z_, &ob, &zin_);
        if (ZSTD_isError(rc))
          return DataLoss(name_ + ": corrupt zstd stream: " + ZSTD_getErrorName(rc));
        if (ob.pos > before) {
          last_rc_ = rc;
          continue;
        }
        // last_rc_ is 0 exactly when the last frame was complete and fully flushed.
        if (last_rc_ != 0) return DataLoss(name_ + ": truncated zstd stream");
        break;
      }
      size_t rc = ZSTD_decompressStream(z_, &ob, &zin_);
      if (ZSTD_isError(rc))
        return DataLoss(name_ + ": corrupt zstd stream: " + ZSTD_getErrorName(rc));
      last_rc_ = rc;
    }
    return ob.pos;
  }

 private:
  std::unique_ptr<ByteStream> in_;
  std::string name_;
  std::vector<char> buf_;
  ZSTD_DStream* z_;
  ZSTD_inBuffer zin_{nullptr, 0, 0};
  size_t last_rc_ = 0;
  bool eof_ = false;
};

std::unique_ptr<ByteStream> Decompress(std::unique_ptr<ByteStream> raw, Compression c,
                                       std::string name) {
  switch (c) {
    case Compression::kGzip:
      return std::make_unique<GzipStream>(std::move(raw), std::move(name));
    case Compression::kZstd:
      return std::make_unique<ZstdStream>(std::move(raw), std::move(name));
    case Compression::kNone:
      break;
  }
  return raw;
}

}  // namespace

Compression DetectCompression(std::string_view b) {
  if (b.size() >= 2 && static_cast<unsigned char>(b[0]) == 0x1f &&
      static_cast<unsigned char>(b[1]) == 0x8b)
    return Compression::kGzip;
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0x28 &&
      static_cast<unsigned char>(b[1]) == 0xb5 && static_cast<unsigned char>(b[2]) == 0x2f &&
      static_cast<unsigned char>(b[3]) == 0xfd)
    return Compression::kZstd;
  return Compression::kNone;
}

Result<Compression> DetectCompression(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(path + ": cannot open: " + std::strerror(errno));
  char magic[4];
  ssize_t got = ::pread(fd, magic, sizeof(magic), 0);
  ::close(fd);
  if (got < 0) return DataLoss(path + ": read failed: " + std::strerror(errno));
  return DetectCompression(std::string_view(magic, static_cast<size_t>(got)));
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NotFound(path + ": " + std::strerror(errno));
  return static_cast<uint64_t>(st.st_size);
}

Result<std::unique_ptr<ByteStream>> OpenByteStream(const std::string& path, uint64_t offset) {
  SPARROW_ASSIGN_OR_RETURN(Compression c, DetectCompression(path));
  if (offset > 0 && c != Compression::kNone) {
    return InvalidArgument(path + ": cannot start a compressed file at byte " +
                           std::to_string(offset));
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(path + ": cannot open: " + std::strerror(errno));
  if (offset > 0 && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    ::close(fd);
    return DataLoss(path + ": seek failed: " + std::strerror(errno));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return Decompress(std::make_unique<FileStream>(fd, path), c, path);
}

std::unique_ptr<ByteStream> MemoryByteStream(std::string_view bytes, std::string name) {
  Compression c = DetectCompression(bytes);
  return Decompress(std::make_unique<MemoryStream>(bytes), c, std::move(name));
}

}  // namespace sparrow::data
