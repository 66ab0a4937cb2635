// Each area of the CLI keeps its own list of subcommands, so areas grow independently.
#pragma once

#include <vector>

#include "tools/command.h"

namespace sparrow::tools {

// scheduler, server, worker, bench kv (tools/cluster_commands.cc).
std::vector<Command> ClusterCommands();
// train, predict, eval, inspect (tools/train_command_list.cc).
std::vector<Command> TrainCommands();
// convert, synth, bench parse (tools/data_commands.cc).
std::vector<Command> DataCommands();
// serve, bench serve (tools/serve_command_list.cc).
std::vector<Command> ServeCommands();

}  // namespace sparrow::tools
