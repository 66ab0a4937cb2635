#include "data/line_chunker.h"

#include <emmintrin.h>

#include <cstring>

namespace sparrow::data {

uint64_t CountNewlines(const char* p, size_t n) {
  uint64_t count = 0;
  size_t i = 0;
  const __m128i nl = _mm_set1_epi8('\n');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    count += __builtin_popcount(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl))));
  }
  for (; i < n; ++i) count += p[i] == '\n';
  return count;
}

Result<uint64_t> LineNumberAt(const std::string& path, uint64_t offset) {
  SPARROW_ASSIGN_OR_RETURN(auto stream, OpenByteStream(path));
  std::vector<char> buf(1 << 20);
  uint64_t lines = 0;
  while (offset > 0) {
    SPARROW_ASSIGN_OR_RETURN(size_t got,
                             stream->Read(buf.data(), std::min<uint64_t>(buf.size(), offset)));
    if (got == 0) break;
    lines += CountNewlines(buf.data(), got);
    offset -= got;
  }
  return lines + 1;
}

LineChunker::LineChunker(std::unique_ptr<ByteStream> stream, std::string name, uint64_t begin,
                         uint64_t end, size_t chunk_bytes)
    : stream_(std::move(stream)),
      name_(std::move(name)),
      end_(end),
      chunk_bytes_(chunk_bytes < 64 ? 64 : chunk_bytes),
      buf_(chunk_bytes_ * 2),
      pos_(begin > 0 ? begin - 1 : 0),
      skip_partial_(begin > 0) {}

Status LineChunker::Fill() {
  if (head_ > 0) {
    std::memmove(buf_.data(), buf_.data() + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  if (tail_ == buf_.size()) {
    if (buf_.size() >= kMaxLineBytes) {
      return InvalidArgument(name_ + ": a line near byte " + std::to_string(pos_) +
                             " is longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
    buf_.resize(buf_.size() * 2);
  }
  while (tail_ < buf_.size() && !eof_) {
    SPARROW_ASSIGN_OR_RETURN(size_t got, stream_->Read(buf_.data() + tail_, buf_.size() - tail_));
    if (got == 0) eof_ = true;
    tail_ += got;
  }
  return Status::Ok();
}

Status LineChunker::Next(Chunk* chunk) {
  chunk->size = 0;
  chunk->lines = 0;
  chunk->first_line = lines_;
  while (skip_partial_) {
    const char* nl =
        static_cast<const char*>(std::memchr(buf_.data() + head_, '\n', tail_ - head_));
    if (nl != nullptr) {
      size_t drop = nl + 1 - (buf_.data() + head_);
      head_ += drop;
      pos_ += drop;
      skip_partial_ = false;
    } else {
      pos_ += tail_ - head_;
      head_ = tail_ = 0;
      if (eof_) {
        done_ = true;
        skip_partial_ = false;
      } else {
        SPARROW_RETURN_IF_ERROR(Fill());
      }
    }
  }
  if (done_ || pos_ >= end_) {
    done_ = true;
    return Status::Ok();
  }
  // Need at least one whole line (or the end of the file) in the buffer.
  for (;;) {
    if (tail_ - head_ >= chunk_bytes_ || eof_) {
      if (std::memchr(buf_.data() + head_, '\n', tail_ - head_) != nullptr || eof_) break;
    }
    SPARROW_RETURN_IF_ERROR(Fill());
    if (eof_ && tail_ == head_) {
      done_ = true;
      return Status::Ok();
    }
  }
  const char* base = buf_.data() + head_;
  size_t avail = tail_ - head_;
  size_t take = std::min(avail, chunk_bytes_);
  // Cut after the last '\n' within `take`, or after the first one beyond it.
  const char* cut = static_cast<const char*>(memrchr(base, '\n', take));
  if (cut == nullptr) cut = static_cast<const char*>(std::memchr(base + take, '\n', avail - take));
  size_t len;
  if (cut != nullptr) {
    len = cut + 1 - base;
  } else {
    len = avail;  // eof_: the last line has no '\n'
  }
  // Lines starting at or after end_ belong to the next shard.
  if (end_ != UINT64_MAX && pos_ + len > end_) {
    uint64_t inside = end_ - pos_;  // bytes [0, inside) start lines of ours
    const char* nl =
        static_cast<const char*>(std::memchr(base + inside - 1, '\n', len - (inside - 1)));
    if (nl != nullptr) len = nl + 1 - base;
    done_ = true;
  }
  bool needs_newline = base[len - 1] != '\n';
  if (chunk->text.size() < len + 1) chunk->text.resize(len + 1 + len / 4);
  std::memcpy(chunk->text.data(), base, len);
  if (needs_newline) chunk->text[len] = '\n';
  chunk->size = len + needs_newline;
  chunk->offset = pos_;
  chunk->lines = CountNewlines(chunk->text.data(), chunk->size);
  lines_ += chunk->lines;
  head_ += len;
  pos_ += len;
  if (eof_ && head_ == tail_) done_ = true;
  return Status::Ok();
}

}  // namespace sparrow::data
