// The scoring daemon's subcommands: `serve` and `bench serve`.
#pragma once

#include <string>
#include <vector>

namespace sparrow::tools {

int RunServe(const std::vector<std::string>& args);
int RunBenchServe(const std::vector<std::string>& args);

}  // namespace sparrow::tools
