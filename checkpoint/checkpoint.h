// Checkpoints of a training run: where they live, their manifest, and which one to resume.
//
// A checkpoint is a consistent cut taken at the end of an epoch, after every worker's
// pushes are applied and before any worker pushes again (the workers hold a barrier
// around it):
//   <run>/checkpoints/epoch-000003/
//       server-0.ckpt ... server-<S-1>.ckpt   each server's rows of the model's tables with
//                                             their optimizer state and admission counts
//                                             (a model file: model_file/model_file.h,
//                                             TableInfo.table_spec set; CRC32C inside)
//       MANIFEST                              written last, atomically: epoch, files and
//                                             their sizes, early-stopping state; CRC32C
// A worker's place in its data needs no file at an epoch's end: epoch e+1 visits its rows
// in the order seeded by (shuffle_seed, e+1, rank), whatever ran before.
//
// A directory without a valid MANIFEST, or whose parts do not match it or fail their CRC,
// is not a checkpoint: FindNewest() skips it, saying why, for the one before.
//
// Thread safety: free functions.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "proto/checkpoint.pb.h"

namespace sparrow::checkpoint {

inline constexpr uint32_t kFormatVersion = 1;

// <run>/checkpoints
std::string Root(const std::string& run_dir);
// <run>/checkpoints/epoch-<epoch, 6 digits>
std::string EpochDir(const std::string& run_dir, uint32_t epoch);
// <dir>/server-<rank>.ckpt
std::string ServerPart(const std::string& dir, int rank);

// Writes <dir>/MANIFEST (temporary file, fsync, rename, directory fsync), listing the
// `servers` parts that must already be in `dir` with their sizes. `m`'s epoch, early
// stopping state and write_seconds are the caller's; files, servers, format_version and
// the time are filled in here.
Status WriteManifest(const std::string& dir, int servers, Manifest m);
// Reads and checks <dir>/MANIFEST (magic, version, CRC). DataLoss naming the problem.
Result<Manifest> ReadManifest(const std::string& dir);
// Checks that every file the manifest lists has its size and reads whole with a valid CRC.
Status Verify(const std::string& dir, const Manifest& m);

struct Found {
  std::string dir;  // the checkpoint directory
  Manifest manifest;
  // One line per newer directory that was passed over, saying why ("... is corrupt: ...").
  std::vector<std::string> skipped;
};
// The newest complete, verified checkpoint of `run_dir`; NotFound if there is none (then
// Found::skipped, through the status message, says what was passed over).
Result<Found> FindNewest(const std::string& run_dir);

// Deletes all but the newest `keep` complete checkpoints, and every incomplete directory
// older than the newest complete one. Errors are logged, not returned: a checkpoint left
// behind costs disk, not correctness.
void Prune(const std::string& run_dir, uint32_t keep);

}  // namespace sparrow::checkpoint
