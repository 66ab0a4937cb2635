#include <unistd.h>

#include <climits>
#include <string>
#include <vector>

#include "tools/command.h"
#include "tools/command_lists.h"

namespace sparrow::tools {

const std::vector<Command>& Commands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> v;
    for (auto* list : {&TrainCommands, &ClusterCommands, &DataCommands, &ServeCommands}) {
      for (const Command& c : list()) v.push_back(c);
    }
    return v;
  }();
  return all;
}

std::string SelfExecutable() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "sparrow";
  buf[n] = '\0';
  return buf;
}

}  // namespace sparrow::tools
