#include "data/text_reader.h"

#include <glog/logging.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <memory>

#include "data/byte_stream.h"
#include "data/line_chunker.h"
#include "data/line_parser.h"
#include "data/parser_factory.h"

namespace sparrow::data {

struct PipelineSlot {
  Chunk chunk;
  ParseOutput out;
};

namespace {

using Slot = PipelineSlot;

constexpr int kLoggedBadLines = 5;

class FileReader {
 public:
  FileReader(const DataSpec& data, const FeatureSpec& features, const ReadOptions& options,
             const BatchSink& sink, ReadStats* stats, std::vector<std::unique_ptr<Slot>>* ring,
             tbb::task_arena* arena)
      : data_(data),
        features_(features),
        options_(options),
        sink_(sink),
        stats_(stats),
        ring_(*ring),
        arena_(*arena) {}

  Status Read(const std::string& path);

 private:
  std::string LineName(const Slot& s, uint64_t line_in_chunk);

  const DataSpec& data_;
  const FeatureSpec& features_;
  const ReadOptions& options_;
  const BatchSink& sink_;
  ReadStats* stats_;
  std::vector<std::unique_ptr<Slot>>& ring_;
  tbb::task_arena& arena_;

  std::string path_;
  uint64_t line_base_ = kUnknownLine;  // absolute index of the shard's first line
  // The same, counted by the output stage when an error needs it and line_base_ is unknown
  // (line_base_ is the input stage's, read by parsers; this one is the output stage's own).
  uint64_t error_line_base_ = kUnknownLine;
};

std::string FileReader::LineName(const Slot& s, uint64_t line_in_chunk) {
  uint64_t base = line_base_ != kUnknownLine ? line_base_ : error_line_base_;
  if (base == kUnknownLine) {
    // A shard starting mid-file: count the lines before this chunk, once, now that an
    // error needs them; later chunks follow from the chunks' own counts.
    Result<uint64_t> n = LineNumberAt(path_, s.chunk.offset);
    base = error_line_base_ = (n.ok() ? *n - 1 : 0) - s.chunk.first_line;
  }
  return path_ + ":" + std::to_string(base + s.chunk.first_line + line_in_chunk + 1);
}

Status FileReader::Read(const std::string& path) {
  path_ = path;
  SPARROW_ASSIGN_OR_RETURN(Compression compression, DetectCompression(path));
  SPARROW_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  SPARROW_ASSIGN_OR_RETURN(ParserSetup setup,
                           MakeLineParser(data_, features_, options_.part, path));
  LineFilter base = setup.filter;

  uint64_t begin = 0, end = UINT64_MAX;
  if (options_.num_shards > 1) {
    if (compression != Compression::kNone) {
      base.shard = options_.shard;
      base.num_shards = options_.num_shards;
    } else {
      begin = size * options_.shard / options_.num_shards;
      end = size * (options_.shard + 1) / options_.num_shards;
      if (begin == end) return Status::Ok();
    }
  }
  const bool needs_line_base = base.num_shards > 1 || (base.modulus != 0 && base.part != 0);
  line_base_ = begin == 0 ? 0 : kUnknownLine;
  error_line_base_ = kUnknownLine;
  SPARROW_ASSIGN_OR_RETURN(auto stream, OpenByteStream(path, begin > 0 ? begin - 1 : 0));
  LineChunker chunker(std::move(stream), path, begin, end, options_.chunk_bytes);

  const size_t ntokens = ring_.size();
  size_t next = 0;
  std::atomic<bool> failed{false};
  Status input_status, output_status;
  const LineParser& parser = *setup.parser;
  const uint64_t max_bad = data_.max_bad_lines();

  auto input = [&](tbb::flow_control& fc) -> Slot* {
    if (failed.load(std::memory_order_relaxed)) {
      fc.stop();
      return nullptr;
    }
    Slot* s = ring_[next++ % ntokens].get();
    Status st = chunker.Next(&s->chunk);
    if (st.ok() && s->chunk.size > 0 && line_base_ == kUnknownLine && needs_line_base) {
      Result<uint64_t> n = LineNumberAt(path_, s->chunk.offset);
      if (n.ok()) line_base_ = *n - 1;
      st = n.status();
    }
    if (!st.ok()) {
      input_status = st;
      failed = true;
    }
    if (!st.ok() || s->chunk.size == 0) {
      fc.stop();
      return nullptr;
    }
    return s;
  };
  auto parse = [&](Slot* s) -> Slot* {
    s->out.Clear();
    if (failed.load(std::memory_order_relaxed)) return s;
    LineFilter filter = base;
    filter.first_line =
        line_base_ == kUnknownLine ? kUnknownLine : line_base_ + s->chunk.first_line;
    parser.Parse(s->chunk.text.data(), s->chunk.size, filter, &s->out);
    return s;
  };
  auto output = [&](Slot* s) {
    if (failed.load(std::memory_order_relaxed)) return;
    for (const BadLine& bad : s->out.bad) {
      std::string where = LineName(*s, bad.line) + ": " + bad.reason;
      if (stats_->bad_lines >= max_bad) {
        output_status = InvalidArgument(where);
        failed = true;
        return;
      }
      if (stats_->bad_lines == 0) stats_->first_bad = where;
      if (stats_->bad_lines < kLoggedBadLines) LOG(WARNING) << "skipped " << where;
      ++stats_->bad_lines;
    }
    stats_->bytes += s->chunk.size;
    stats_->rows += s->out.batch.rows();
    if (s->out.batch.rows() == 0) return;
    Status st = sink_(s->out.batch);
    if (!st.ok()) {
      output_status = st;
      failed = true;
    }
  };

  arena_.execute([&] {
    tbb::parallel_pipeline(
        ntokens, tbb::make_filter<void, Slot*>(tbb::filter_mode::serial_in_order, input) &
                     tbb::make_filter<Slot*, Slot*>(tbb::filter_mode::parallel, parse) &
                     tbb::make_filter<Slot*, void>(tbb::filter_mode::serial_in_order, output));
  });
  SPARROW_RETURN_IF_ERROR(input_status);
  return output_status;
}

}  // namespace

TextReader::TextReader(const DataSpec& data, const FeatureSpec& features,
                       const ReadOptions& options)
    : data_(data), features_(features), options_(options) {
  if (options_.threads < 1) options_.threads = 1;
  for (int i = 0; i < 2 * options_.threads; ++i) ring_.push_back(std::make_unique<Slot>());
  arena_ = std::make_unique<tbb::task_arena>(options_.threads);
}

TextReader::~TextReader() = default;

Status TextReader::Read(const std::vector<std::string>& files, const BatchSink& sink,
                        ReadStats* stats) {
  if (options_.num_shards == 0 || options_.shard >= options_.num_shards) {
    return InvalidArgument("shard " + std::to_string(options_.shard) + " of " +
                           std::to_string(options_.num_shards) + " does not exist");
  }
  ReadStats local;
  if (stats == nullptr) stats = &local;
  const uint64_t bad_before = stats->bad_lines;
  FileReader reader(data_, features_, options_, sink, stats, &ring_, arena_.get());
  for (const std::string& path : files) SPARROW_RETURN_IF_ERROR(reader.Read(path));
  if (stats->bad_lines > bad_before) {
    LOG(WARNING) << "skipped " << stats->bad_lines - bad_before << " bad line(s) (max_bad_lines "
                 << data_.max_bad_lines() << "); first: " << stats->first_bad;
  }
  return Status::Ok();
}

Status ReadText(const DataSpec& data, const FeatureSpec& features,
                const std::vector<std::string>& files, const ReadOptions& options,
                const BatchSink& sink, ReadStats* stats) {
  TextReader reader(data, features, options);
  return reader.Read(files, sink, stats);
}

}  // namespace sparrow::data
