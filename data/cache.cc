#include "data/cache.h"

#include <fcntl.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <random>

#include "core/crc32c.h"
#include "data/feature_spec.h"

namespace sparrow::data {

// One block in flight through the read pipeline; reused from read to read.
struct CacheSlot {
  std::string bytes;
  uint64_t block = 0;
  Batch batch;
  Batch scratch;
  std::vector<uint32_t> perm;
  Status status;
};

namespace {

constexpr char kMagic[8] = {'S', 'P', 'R', 'W', 'C', 'A', 'C', 'H'};
constexpr uint32_t kBlockMagic = 0x314b4c42;  // "BLK1"
constexpr uint32_t kEndMagic = 0x45525053;    // "SPRE"
constexpr uint32_t kFlagAllOnes = 1;
constexpr uint32_t kFlagFields = 2;
constexpr size_t kBlockHeaderBytes = 32;
constexpr size_t kTrailerBytes = 24;
constexpr size_t kPreambleBytes = 24;  // magic, version, header_bytes, fingerprint

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}
template <typename T>
void PutArray(std::string* out, const std::vector<T>& v) {
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

std::string Errno() {
  return std::strerror(errno);
}

Status PreadAll(int fd, char* buf, size_t n, uint64_t offset, const std::string& path) {
  while (n > 0) {
    ssize_t got = ::pread(fd, buf, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return DataLoss(path + ": read failed: " + Errno());
    if (got == 0) return DataLoss(path + ": truncated cache (unexpected end of file)");
    buf += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return Status::Ok();
}

struct SourceStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};
Result<SourceStat> StatSource(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return NotFound(path + ": " + Errno());
  return SourceStat{static_cast<uint64_t>(st.st_size),
                    static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

// An open cache: header read and checked, index loaded.
struct OpenCacheFile {
  int fd = -1;
  std::string path;
  CacheHeader header;
  bool has_fields = false;
  std::vector<uint64_t> offsets;  // block starts, plus the index offset at the end
  std::vector<uint64_t> rows;
  ~OpenCacheFile() {
    if (fd >= 0) ::close(fd);
  }
};

Status OpenCache(const std::string& path, OpenCacheFile* f) {
  f->path = path;
  f->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) return NotFound(path + ": cannot open cache: " + Errno());
  struct stat st;
  if (::fstat(f->fd, &st) != 0) return DataLoss(path + ": " + Errno());
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  char pre[kPreambleBytes];
  if (size < kPreambleBytes + 4 + kTrailerBytes) {
    return DataLoss(path + ": not a Sparrow cache (too short: " + std::to_string(size) + " bytes)");
  }
  SPARROW_RETURN_IF_ERROR(PreadAll(f->fd, pre, sizeof(pre), 0, path));
  if (std::memcmp(pre, kMagic, 8) != 0) return DataLoss(path + ": not a Sparrow cache (bad magic)");
  uint32_t version = Get<uint32_t>(pre + 8);
  if (version != kCacheVersion) {
    return FailedPrecondition(path + ": cache format version " + std::to_string(version) +
                              ", this build reads " + std::to_string(kCacheVersion) +
                              "; rebuild it with `sparrow convert`");
  }
  uint32_t header_bytes = Get<uint32_t>(pre + 12);
  if (header_bytes > size - kPreambleBytes - 4 - kTrailerBytes) {
    return DataLoss(path + ": corrupt cache header (length)");
  }
  std::string head(kPreambleBytes + header_bytes + 4, '\0');
  SPARROW_RETURN_IF_ERROR(PreadAll(f->fd, head.data(), head.size(), 0, path));
  if (Crc32c(head.data(), head.size() - 4) != Get<uint32_t>(head.data() + head.size() - 4)) {
    return DataLoss(path + ": corrupt cache header (CRC mismatch)");
  }
  if (!f->header.ParseFromArray(head.data() + kPreambleBytes, static_cast<int>(header_bytes))) {
    return DataLoss(path + ": corrupt cache header (unparseable)");
  }
  if (Fingerprint(f->header.spec()) != Get<uint64_t>(pre + 16)) {
    return DataLoss(path + ": corrupt cache header (fingerprint)");
  }
  f->has_fields = f->header.spec().format() == LIBFFM || f->header.spec().format() == CSV ||
                  f->header.spec().format() == CRITEO;
  char trailer[kTrailerBytes];
  SPARROW_RETURN_IF_ERROR(PreadAll(f->fd, trailer, sizeof(trailer), size - kTrailerBytes, path));
  if (Get<uint32_t>(trailer + 20) != kEndMagic) {
    return DataLoss(path + ": truncated cache (no trailer; was `sparrow convert` interrupted?)");
  }
  uint64_t index_offset = Get<uint64_t>(trailer);
  uint64_t nblocks = Get<uint64_t>(trailer + 8);
  const uint64_t data_start = head.size();
  if (index_offset < data_start || nblocks > (size - index_offset) / 16 ||
      index_offset + nblocks * 16 + kTrailerBytes != size) {
    return DataLoss(path + ": corrupt cache index (bounds)");
  }
  std::string index(nblocks * 16, '\0');
  SPARROW_RETURN_IF_ERROR(PreadAll(f->fd, index.data(), index.size(), index_offset, path));
  if (Crc32c(index.data(), index.size()) != Get<uint32_t>(trailer + 16)) {
    return DataLoss(path + ": corrupt cache index (CRC mismatch)");
  }
  f->offsets.resize(nblocks + 1);
  f->rows.resize(nblocks);
  for (uint64_t b = 0; b < nblocks; ++b) {
    f->offsets[b] = Get<uint64_t>(index.data() + 8 * b);
    f->rows[b] = Get<uint64_t>(index.data() + 8 * (nblocks + b));
  }
  f->offsets[nblocks] = index_offset;
  for (uint64_t b = 0; b < nblocks; ++b) {
    if (f->offsets[b] < data_start || f->offsets[b] + kBlockHeaderBytes > f->offsets[b + 1]) {
      return DataLoss(path + ": corrupt cache index (block " + std::to_string(b) + ")");
    }
  }
  return Status::Ok();
}

void ShuffleRows(uint64_t seed, uint64_t epoch, uint64_t block, Batch* b, Batch* tmp,
                 std::vector<uint32_t>* perm) {
  perm->resize(b->rows());
  std::iota(perm->begin(), perm->end(), 0);
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL ^ (epoch << 32) ^ block);
  std::shuffle(perm->begin(), perm->end(), rng);
  tmp->Clear();
  tmp->has_fields = b->has_fields;
  for (uint32_t r : *perm) tmp->AppendRow(*b, r);
  std::swap(*b, *tmp);
}

}  // namespace

Status DecodeCacheBlock(const char* p, size_t n, bool has_fields, Batch* out) {
  out->Clear();
  out->has_fields = has_fields;
  if (n < kBlockHeaderBytes) return DataLoss("block shorter than its header");
  if (Get<uint32_t>(p) != kBlockMagic) return DataLoss("bad block magic");
  if (Crc32c(p, 24) != Get<uint32_t>(p + 24)) return DataLoss("block header CRC mismatch");
  const uint64_t rows = Get<uint32_t>(p + 4);
  const uint64_t nnz = Get<uint64_t>(p + 8);
  const uint32_t flags = Get<uint32_t>(p + 16);
  if (((flags & kFlagFields) != 0) != has_fields || (flags & ~3u) != 0) {
    return DataLoss("block flags disagree with the header");
  }
  const bool all_ones = flags & kFlagAllOnes;
  const char* q = p + kBlockHeaderBytes;
  const size_t payload = n - kBlockHeaderBytes;
  // Sizes come from untrusted counts: bound them before multiplying.
  if (nnz > payload / 8 || rows > payload / 20) return DataLoss("block payload size mismatch");
  const uint64_t want =
      rows * 12 + (rows + 1) * 8 + nnz * 8 + (all_ones ? 0 : nnz * 4) + (has_fields ? nnz * 4 : 0);
  if (want != payload) return DataLoss("block payload size mismatch");
  if (Crc32c(q, payload) != Get<uint32_t>(p + 20)) return DataLoss("block payload CRC mismatch");
  auto take = [&q](auto* v, size_t count) {
    using T = typename std::remove_reference_t<decltype(*v)>::value_type;
    v->resize(count);
    if (count > 0) std::memcpy(v->data(), q, count * sizeof(T));  // data() may be null
    q += count * sizeof(T);
  };
  take(&out->labels, rows);
  take(&out->weights, rows);
  take(&out->offsets, rows);
  take(&out->row_offsets, rows + 1);
  take(&out->keys, nnz);
  if (all_ones) {
    out->values.assign(nnz, 1.0f);
  } else {
    take(&out->values, nnz);
  }
  if (has_fields) take(&out->fields, nnz);
  if (out->row_offsets[0] != 0 || out->row_offsets[rows] != nnz) {
    return DataLoss("block row offsets inconsistent");
  }
  for (uint64_t r = 0; r < rows; ++r) {
    if (out->row_offsets[r] > out->row_offsets[r + 1])
      return DataLoss("block row offsets decrease");
  }
  return Status::Ok();
}

Result<std::unique_ptr<CacheWriter>> CacheWriter::Create(const std::string& path,
                                                         const FeatureSpec& spec,
                                                         const std::vector<std::string>& sources,
                                                         size_t block_bytes) {
  std::unique_ptr<CacheWriter> w(new CacheWriter());
  w->path_ = path;
  w->tmp_ = path + ".tmp";
  w->block_bytes_ = std::max<size_t>(block_bytes, 1024);
  CacheHeader header;
  *header.mutable_spec() = spec;
  for (const std::string& s : sources) {
    SPARROW_ASSIGN_OR_RETURN(SourceStat st, StatSource(s));
    CacheHeader::Source* src = header.add_sources();
    src->set_path(s);
    src->set_size(st.size);
    src->set_mtime_ns(st.mtime_ns);
  }
  w->pending_.has_fields =
      spec.format() == LIBFFM || spec.format() == CSV || spec.format() == CRITEO;
  std::string head(kMagic, 8);
  std::string body = header.SerializeAsString();
  Put<uint32_t>(&head, kCacheVersion);
  Put<uint32_t>(&head, static_cast<uint32_t>(body.size()));
  Put<uint64_t>(&head, Fingerprint(spec));
  head += body;
  Put<uint32_t>(&head, Crc32c(head.data(), head.size()));
  w->fd_ = ::open(w->tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) return NotFound(w->tmp_ + ": cannot create: " + Errno());
  SPARROW_RETURN_IF_ERROR(w->Write(head.data(), head.size()));
  return w;
}

CacheWriter::~CacheWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());  // not finished: leave nothing half-written behind
  }
}

Status CacheWriter::Write(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t put = ::write(fd_, c, n);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) return DataLoss(tmp_ + ": write failed: " + Errno());
    c += put;
    n -= static_cast<size_t>(put);
    offset_ += static_cast<uint64_t>(put);
  }
  return Status::Ok();
}

Status CacheWriter::Append(const Batch& batch) {
  if (batch.has_fields != pending_.has_fields) {
    return InvalidArgument(path_ + ": batch field ids disagree with the cache's format");
  }
  size_t r = 0;
  while (r < batch.rows()) {
    // Take rows until the block is full, so blocks stay near block_bytes_.
    size_t end = r;
    size_t bytes = pending_.keys.size() * 16 + pending_.rows() * 20;
    while (end < batch.rows() && bytes < block_bytes_) {
      bytes += (batch.row_offsets[end + 1] - batch.row_offsets[end]) * 16 + 20;
      ++end;
    }
    pending_.AppendRows(batch, r, end);
    r = end;
    if (bytes >= block_bytes_) SPARROW_RETURN_IF_ERROR(WriteBlock());
  }
  return Status::Ok();
}

Status CacheWriter::WriteBlock() {
  const Batch& b = pending_;
  if (b.rows() == 0) return Status::Ok();
  const bool all_ones =
      std::all_of(b.values.begin(), b.values.end(), [](float v) { return v == 1.0f; });
  payload_.clear();
  PutArray(&payload_, b.labels);
  PutArray(&payload_, b.weights);
  PutArray(&payload_, b.offsets);
  PutArray(&payload_, b.row_offsets);
  PutArray(&payload_, b.keys);
  if (!all_ones) PutArray(&payload_, b.values);
  if (b.has_fields) PutArray(&payload_, b.fields);
  std::string head;
  Put<uint32_t>(&head, kBlockMagic);
  Put<uint32_t>(&head, static_cast<uint32_t>(b.rows()));
  Put<uint64_t>(&head, b.keys.size());
  Put<uint32_t>(&head, (all_ones ? kFlagAllOnes : 0) | (b.has_fields ? kFlagFields : 0));
  Put<uint32_t>(&head, Crc32c(payload_.data(), payload_.size()));
  Put<uint32_t>(&head, Crc32c(head.data(), head.size()));
  Put<uint32_t>(&head, 0);
  block_offsets_.push_back(offset_);
  block_rows_.push_back(b.rows());
  rows_ += b.rows();
  SPARROW_RETURN_IF_ERROR(Write(head.data(), head.size()));
  SPARROW_RETURN_IF_ERROR(Write(payload_.data(), payload_.size()));
  pending_.Clear();
  return Status::Ok();
}

Status CacheWriter::Finish() {
  SPARROW_RETURN_IF_ERROR(WriteBlock());
  std::string index;
  PutArray(&index, block_offsets_);
  PutArray(&index, block_rows_);
  const uint64_t index_offset = offset_;
  std::string trailer;
  Put<uint64_t>(&trailer, index_offset);
  Put<uint64_t>(&trailer, block_offsets_.size());
  Put<uint32_t>(&trailer, Crc32c(index.data(), index.size()));
  Put<uint32_t>(&trailer, kEndMagic);
  SPARROW_RETURN_IF_ERROR(Write(index.data(), index.size()));
  SPARROW_RETURN_IF_ERROR(Write(trailer.data(), trailer.size()));
  if (::fsync(fd_) != 0) return DataLoss(tmp_ + ": fsync failed: " + Errno());
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    return DataLoss(path_ + ": rename from " + tmp_ + " failed: " + Errno());
  }
  return Status::Ok();
}

Result<CacheHeader> ReadCacheHeader(const std::string& path) {
  OpenCacheFile f;
  SPARROW_RETURN_IF_ERROR(OpenCache(path, &f));
  return f.header;
}

CacheReader::CacheReader() = default;
CacheReader::~CacheReader() = default;

Status CacheReader::Read(const std::string& path, const FeatureSpec* expect,
                         const CacheReadOptions& options,
                         const std::function<Status(const Batch&)>& sink, CacheStats* stats) {
  CacheStats local;
  if (stats == nullptr) stats = &local;
  if (options.num_shards == 0 || options.shard >= options.num_shards) {
    return InvalidArgument("shard " + std::to_string(options.shard) + " of " +
                           std::to_string(options.num_shards) + " does not exist");
  }
  OpenCacheFile f;
  SPARROW_RETURN_IF_ERROR(OpenCache(path, &f));
  if (expect != nullptr) {
    uint64_t want = Fingerprint(*expect), have = Fingerprint(f.header.spec());
    if (want != have) {
      char buf[128];
      std::snprintf(buf, sizeof(buf), " (cache %016llx, expected %016llx)",
                    static_cast<unsigned long long>(have), static_cast<unsigned long long>(want));
      return FailedPrecondition(path + ": stale cache: written under another feature spec" +
                                std::string(buf) + "; rebuild it with `sparrow convert`");
    }
  }
  if (options.check_sources) {
    for (const CacheHeader::Source& src : f.header.sources()) {
      Result<SourceStat> st = StatSource(src.path());
      if (st.ok() && (st->size != src.size() || st->mtime_ns != src.mtime_ns())) {
        return FailedPrecondition(
            path + ": stale cache: its source " + src.path() +
            " changed since it was written; rebuild it with `sparrow convert`");
      }
    }
  }
  std::vector<uint64_t> order;
  for (uint64_t b = options.shard; b < f.rows.size(); b += options.num_shards) order.push_back(b);
  if (options.shuffle) {
    std::mt19937_64 rng(options.shuffle_seed * 0x9e3779b97f4a7c15ULL + options.epoch);
    std::shuffle(order.begin(), order.end(), rng);
  }
  const int threads = options.threads < 1 ? 1 : options.threads;
  const size_t ntokens = 2 * static_cast<size_t>(threads);
  if (threads != threads_) {
    threads_ = threads;
    arena_ = std::make_unique<tbb::task_arena>(threads);
    while (ring_.size() < ntokens) ring_.push_back(std::make_unique<CacheSlot>());
  }
  std::vector<std::unique_ptr<CacheSlot>>& ring = ring_;
  size_t next = 0, pos = 0;
  std::atomic<bool> failed{false};
  Status input_status, output_status;
  auto input = [&](tbb::flow_control& fc) -> CacheSlot* {
    if (failed.load(std::memory_order_relaxed) || pos == order.size()) {
      fc.stop();
      return nullptr;
    }
    CacheSlot* s = ring[next++ % ntokens].get();
    s->block = order[pos++];
    uint64_t begin = f.offsets[s->block], end = f.offsets[s->block + 1];
    s->bytes.resize(end - begin);
    Status st = PreadAll(f.fd, s->bytes.data(), s->bytes.size(), begin, path);
    if (!st.ok()) {
      input_status = st;
      failed = true;
      fc.stop();
      return nullptr;
    }
    return s;
  };
  auto decode = [&](CacheSlot* s) -> CacheSlot* {
    if (failed.load(std::memory_order_relaxed)) return s;
    s->status = DecodeCacheBlock(s->bytes.data(), s->bytes.size(), f.has_fields, &s->batch);
    if (s->status.ok() && s->batch.rows() != f.rows[s->block]) {
      s->status = DataLoss("block row count disagrees with the index");
    }
    if (s->status.ok() && options.shuffle) {
      ShuffleRows(options.shuffle_seed, options.epoch, s->block, &s->batch, &s->scratch, &s->perm);
    }
    return s;
  };
  auto output = [&](CacheSlot* s) {
    if (failed.load(std::memory_order_relaxed)) return;
    if (!s->status.ok()) {
      output_status = DataLoss(path + ": corrupt cache block " + std::to_string(s->block) +
                               " at byte " + std::to_string(f.offsets[s->block]) + ": " +
                               s->status.message() + "; rebuild it with `sparrow convert`");
      failed = true;
      return;
    }
    stats->rows += s->batch.rows();
    stats->bytes += s->bytes.size();
    stats->blocks += 1;
    Status st = sink(s->batch);
    if (!st.ok()) {
      output_status = st;
      failed = true;
    }
  };
  arena_->execute([&] {
    tbb::parallel_pipeline(
        ntokens, tbb::make_filter<void, CacheSlot*>(tbb::filter_mode::serial_in_order, input) &
                     tbb::make_filter<CacheSlot*, CacheSlot*>(tbb::filter_mode::parallel, decode) &
                     tbb::make_filter<CacheSlot*, void>(tbb::filter_mode::serial_in_order, output));
  });
  SPARROW_RETURN_IF_ERROR(input_status);
  return output_status;
}

Status ReadCache(const std::string& path, const FeatureSpec* expect,
                 const CacheReadOptions& options, const std::function<Status(const Batch&)>& sink,
                 CacheStats* stats) {
  CacheReader reader;
  return reader.Read(path, expect, options, sink, stats);
}

}  // namespace sparrow::data
