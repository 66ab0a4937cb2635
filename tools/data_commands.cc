#include "tools/command_lists.h"

namespace sparrow::tools {

std::vector<Command> DataCommands() { return {}; }

}  // namespace sparrow::tools
