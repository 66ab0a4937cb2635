// The `sparrow` binary's subcommands.
//
// Every subcommand is one entry in the table returned by Commands() (tools/commands.cc).
// A command reads its options from gflags (each defined in the command's own file) and
// gets the positional arguments that remain after flag parsing. It returns the process
// exit status: 0 on success, 1 on a failure it has already explained on stderr, 2 on a
// usage error.
#pragma once

#include <string>
#include <vector>

namespace sparrow::tools {

struct Command {
  const char* name;                // "server", or two words for a family: "bench kv"
  const char* usage;               // argument synopsis after the name, e.g. "CONFIG [--out=DIR]"
  const char* summary;             // one line for `sparrow --help`
  std::vector<const char*> flags;  // flags the command reads, listed by `sparrow CMD --help`
  int (*run)(const std::vector<std::string>& args);
};

// All subcommands, in the order `sparrow --help` lists them.
const std::vector<Command>& Commands();

// Every `--set FIELD=VALUE` given on the command line, in order (they may repeat).
const std::vector<std::string>& SetOverrides();

// Path of the running `sparrow` executable, for commands that start other roles
// (the launcher, `bench kv`) as child processes.
std::string SelfExecutable();

}  // namespace sparrow::tools
