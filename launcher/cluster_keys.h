// The CURVE keypair a run's nodes authenticate with (transport/curve.h).
#pragma once

#include <string>

#include "core/status.h"
#include "proto/config.pb.h"

namespace sparrow::launcher {

// Where a run's cluster keypair lives, or "" when its cluster runs unauthenticated:
//  - off when `cluster.curve` is false, or unset and `all_local` (a cluster on this host
//    only: links admit only this user, and loopback TCP only this host);
//  - `cluster.curve_keys` when it names a file (which must read back as a keypair);
//  - else RUN_DIR/cluster.keys, made (mode 0600) the first time and reused by restarts
//    and --resume, so every process of the run holds the same keypair.
Result<std::string> RunCurveKeys(const config::ClusterConfig& cluster, const std::string& run_dir,
                                 bool all_local);

}  // namespace sparrow::launcher
