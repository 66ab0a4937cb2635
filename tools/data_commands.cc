#include "tools/command_lists.h"

namespace sparrow::tools {

// Each defined in its own tools/cmd_<name>.cc.
Command BenchParseCommand();

std::vector<Command> DataCommands() {
  return {BenchParseCommand()};
}

}  // namespace sparrow::tools
