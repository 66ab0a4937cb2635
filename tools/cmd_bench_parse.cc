// `sparrow bench parse FILE --format=F [--threads=N]`: parse throughput, for comparing
// with the plain parser peer (../shared/peers/plain_parser) in the same minute.
//
// Parses the whole file into batches repeatedly for at least --bench_seconds per thread
// count (1 and 2 unless --threads), printing one line per count; the last line is
// `parse: mb_per_s=<n> rows_per_s=<n> threads=<n>`. MB are bytes of the file as read
// (decompressed text; the cache file itself for --format=cache), 10^6 bytes.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "data/cache.h"
#include "data/feature_spec.h"
#include "data/text_reader.h"
#include "tools/command.h"
#include "tools/data_flags.h"

DEFINE_double(bench_seconds, 1.0, "bench parse: minimum seconds of parsing per thread count");

namespace sparrow::tools {
namespace {

struct Pass {
  uint64_t bytes = 0;
  uint64_t rows = 0;
};

Result<Pass> ParseOnce(const data::DataSpec& spec, data::TextReader* reader,
                       data::CacheReader* cache, const std::string& path, int threads) {
  Pass pass;
  uint64_t nnz = 0;
  auto sink = [&](const data::Batch& b) {
    nnz += b.nnz();
    return Status::Ok();
  };
  if (spec.format() == data::CACHE) {
    data::CacheReadOptions options;
    options.threads = threads;
    data::CacheStats stats;
    SPARROW_RETURN_IF_ERROR(cache->Read(path, nullptr, options, sink, &stats));
    pass.bytes = stats.bytes;
    pass.rows = stats.rows;
  } else {
    data::ReadStats stats;
    SPARROW_RETURN_IF_ERROR(reader->Read({path}, sink, &stats));
    pass.bytes = stats.bytes;
    pass.rows = stats.rows;
  }
  if (nnz == UINT64_MAX) std::printf("impossible\n");  // keeps the sink's work alive
  return pass;
}

int RunBenchParse(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::fprintf(stderr, "usage: sparrow bench parse FILE --format=F [--threads=N]\n");
    return 2;
  }
  const std::string& path = args[0];
  Result<data::DataSpec> spec = DataSpecFromFlags({path});
  if (!spec.ok()) {
    std::fprintf(stderr, "sparrow bench parse: %s\n", spec.status().message().c_str());
    return 2;
  }
  if (!spec->has_format()) spec->set_format(data::GuessFormat(path));
  data::FeatureSpec features;
  if (spec->format() != data::CACHE) {
    Result<data::FeatureSpec> r = data::ResolveFeatureSpec(*spec);
    if (!r.ok()) {
      std::fprintf(stderr, "sparrow bench parse: %s\n", r.status().message().c_str());
      return 1;
    }
    features = *r;
  }
  std::vector<int> counts = {1, 2};
  if (FLAGS_threads > 0) counts = {FLAGS_threads};
  for (int threads : counts) {
    data::ReadOptions options;
    options.threads = threads;
    data::TextReader reader(*spec, features, options);  // reused: buffers stay warm
    data::CacheReader cache;
    Pass total;
    auto t0 = std::chrono::steady_clock::now();
    double sec = 0;
    do {
      Result<Pass> pass = ParseOnce(*spec, &reader, &cache, path, threads);
      if (!pass.ok()) {
        std::fprintf(stderr, "sparrow bench parse: %s\n", pass.status().message().c_str());
        return 1;
      }
      total.bytes += pass->bytes;
      total.rows += pass->rows;
      sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (sec < FLAGS_bench_seconds);
    std::printf("parse: mb_per_s=%.1f rows_per_s=%.0f threads=%d\n", total.bytes / sec / 1e6,
                total.rows / sec, threads);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

Command BenchParseCommand() {
  return {"bench parse",
          "FILE --format=F [--threads=N] [--spec=SPEC]",
          "parse a data file repeatedly and print MB/s and rows/s",
          {"format", "threads", "spec", "bench_seconds", "max_bad_lines"},
          &RunBenchParse};
}

}  // namespace sparrow::tools
