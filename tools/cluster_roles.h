// Entry points of the cluster subcommands (tools/cmd_*.cc).
#pragma once

#include <string>
#include <vector>

namespace sparrow::tools {

int RunScheduler(const std::vector<std::string>& args);
int RunServer(const std::vector<std::string>& args);
int RunWorker(const std::vector<std::string>& args);
int RunBenchKv(const std::vector<std::string>& args);
int RunKeygen(const std::vector<std::string>& args);

}  // namespace sparrow::tools
