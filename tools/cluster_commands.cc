#include "tools/command_lists.h"

namespace sparrow::tools {

std::vector<Command> ClusterCommands() { return {}; }

}  // namespace sparrow::tools
