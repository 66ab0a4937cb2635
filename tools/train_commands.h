// Entry points of the training and scoring subcommands (tools/cmd_*.cc).
#pragma once

#include <string>
#include <vector>

namespace sparrow::tools {

int RunTrain(const std::vector<std::string>& args);
int RunPredict(const std::vector<std::string>& args);
int RunEval(const std::vector<std::string>& args);
int RunInspect(const std::vector<std::string>& args);
int RunBenchChaos(const std::vector<std::string>& args);

}  // namespace sparrow::tools
