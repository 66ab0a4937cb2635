#include "tools/command_lists.h"

namespace sparrow::tools {

// Each defined in its own tools/cmd_<name>.cc.
Command ConvertCommand();
Command SynthCommand();
Command BenchParseCommand();

std::vector<Command> DataCommands() {
  return {ConvertCommand(), SynthCommand(), BenchParseCommand()};
}

}  // namespace sparrow::tools
