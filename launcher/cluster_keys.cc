#include "launcher/cluster_keys.h"

#include <filesystem>

#include "transport/curve.h"

namespace sparrow::launcher {

Result<std::string> RunCurveKeys(const config::ClusterConfig& cluster, const std::string& run_dir,
                                 bool all_local) {
  const bool on = cluster.has_curve() ? cluster.curve() : !all_local;
  if (!on) return std::string();
  const std::string path =
      cluster.curve_keys().empty() ? run_dir + "/cluster.keys" : cluster.curve_keys();
  std::error_code ec;
  if (cluster.curve_keys().empty() && !std::filesystem::exists(path, ec)) {
    SPARROW_ASSIGN_OR_RETURN(transport::CurveKeys keys, transport::NewCurveKeys());
    SPARROW_RETURN_IF_ERROR(transport::WriteCurveKeys(path, keys));
  }
  // Read now, so that a bad file fails the run here rather than in every child.
  SPARROW_RETURN_IF_ERROR(transport::ReadCurveKeys(path).status());
  return path;
}

}  // namespace sparrow::launcher
