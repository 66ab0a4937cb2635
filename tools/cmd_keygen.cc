// `sparrow keygen --out=FILE`: a new cluster keypair (ZeroMQ CURVE, transport/curve.h) for
// --curve_keys, written with mode 0600 and never over an existing file.
#include <gflags/gflags.h>

#include <cstdio>

#include "tools/cluster_roles.h"
#include "transport/curve.h"

DECLARE_string(out);

namespace sparrow::tools {

int RunKeygen(const std::vector<std::string>& args) {
  if (FLAGS_out.empty() || !args.empty()) {
    std::fprintf(stderr, "usage: sparrow keygen --out=FILE\n");
    return 2;
  }
  Result<transport::CurveKeys> keys = transport::NewCurveKeys();
  Status st = keys.ok() ? transport::WriteCurveKeys(FLAGS_out, *keys) : keys.status();
  if (!st.ok()) {
    std::fprintf(stderr, "sparrow keygen: %s\n", st.message().c_str());
    return 1;
  }
  std::printf(
      "wrote a cluster keypair to %s (mode 0600); copy it to every host of the cluster and "
      "start each node with --curve_keys=%s\n",
      FLAGS_out.c_str(), FLAGS_out.c_str());
  return 0;
}

}  // namespace sparrow::tools
