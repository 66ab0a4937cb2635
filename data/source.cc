#include "data/source.h"

#include "data/cache.h"
#include "data/feature_spec.h"
#include "data/shuffle.h"
#include "data/synth.h"

namespace sparrow::data {
namespace {

std::vector<std::string> Files(const DataSpec& data, const SourceOptions& options) {
  const auto& list = options.test_files ? data.test() : data.train();
  return std::vector<std::string>(list.begin(), list.end());
}

bool IsCache(const DataSpec& data, const std::vector<std::string>& files) {
  return data.format() == CACHE ||
         (data.format() == FORMAT_UNSPECIFIED && !files.empty() && GuessFormat(files[0]) == CACHE);
}

Status ReadSynth(const DataSpec& data, const SourceOptions& options, const BatchSink& sink,
                 ReadStats* stats) {
  const SynthSource& s = data.synth();
  SPARROW_ASSIGN_OR_RETURN(auto model, SynthModel::Create(s.kind(), s.seed()));
  ShuffleBuffer out(0, 0, options.batch_rows);
  SynthStream stream(*model, s.rows(), options.shard, options.num_shards, 4096);
  Batch b, kept;
  while (stream.Next(&b)) {
    const Batch* use = &b;
    if (s.test_modulus() > 0 && options.part != SplitPart::kAll) {
      // Row i of this shard's batch is global row shard + num_shards * k; rebuild that.
      kept.Clear();
      kept.has_fields = b.has_fields;
      for (size_t r = 0; r < b.rows(); ++r) {
        uint64_t index = options.shard + options.num_shards * (stats->rows + r);
        bool test = index % s.test_modulus() == 0;
        if (test == (options.part == SplitPart::kTest)) kept.AppendRow(b, r);
      }
      use = &kept;
    }
    stats->rows += b.rows();  // rows generated, which the index above counts
    SPARROW_RETURN_IF_ERROR(out.Add(*use, sink));
  }
  return out.Flush(sink);
}

}  // namespace

Result<FeatureSpec> SourceFeatureSpec(const DataSpec& data) {
  if (data.has_synth()) {
    SPARROW_ASSIGN_OR_RETURN(auto model,
                             SynthModel::Create(data.synth().kind(), data.synth().seed()));
    return model->features();
  }
  std::vector<std::string> files(data.train().begin(), data.train().end());
  if (IsCache(data, files)) {
    if (files.empty()) return InvalidArgument("train: no cache file");
    SPARROW_ASSIGN_OR_RETURN(CacheHeader header, ReadCacheHeader(files[0]));
    return header.spec();
  }
  return ResolveFeatureSpec(data);
}

Status ReadEpoch(const DataSpec& data, const FeatureSpec& features, const SourceOptions& options,
                 const BatchSink& sink, ReadStats* stats) {
  ReadStats local;
  if (stats == nullptr) stats = &local;
  if (data.has_synth()) {
    ReadStats counter;  // ReadSynth counts generated rows in it
    Status st = ReadSynth(data, options, sink, &counter);
    stats->rows += counter.rows;
    return st;
  }
  const std::vector<std::string> files = Files(data, options);
  ShuffleBuffer shuffle(data.shuffle_window(), data.shuffle_seed() * 1000003 + options.epoch,
                        options.batch_rows);
  auto add = [&](const Batch& b) { return shuffle.Add(b, sink); };
  if (IsCache(data, files)) {
    CacheReadOptions co;
    co.threads = options.threads;
    co.shard = options.shard;
    co.num_shards = options.num_shards;
    co.shuffle = data.shuffle_window() > 0;
    co.shuffle_seed = data.shuffle_seed();
    co.epoch = options.epoch;
    for (const std::string& path : files) {
      CacheStats cs;
      SPARROW_RETURN_IF_ERROR(ReadCache(path, &features, co, add, &cs));
      stats->rows += cs.rows;
      stats->bytes += cs.bytes;
    }
  } else {
    ReadOptions ro;
    ro.threads = options.threads;
    ro.shard = options.shard;
    ro.num_shards = options.num_shards;
    // Separate test files are read whole; a split divides the train files.
    ro.part = data.has_split() && !options.test_files ? options.part : SplitPart::kAll;
    SPARROW_RETURN_IF_ERROR(ReadText(data, features, files, ro, add, stats));
  }
  return shuffle.Flush(sink);
}

}  // namespace sparrow::data
