// Helpers for the end-to-end training tests: the real `sparrow` binary run as a child
// process, scratch directories, metrics.json.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "process/child_process.h"

namespace sparrow::testing {

struct Outcome {
  int exit = -1;    // exit code, minus the signal that ended it, or -999 on a timeout
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `sparrow args...` with the repository as working directory (configs use paths
// relative to it) and waits for it. Not thread-safe (changes the working directory while
// it starts the child).
inline Outcome Sparrow(const std::vector<std::string>& args, int timeout_ms = 300000) {
  namespace fs = std::filesystem;
  const std::string err_path =
      fs::temp_directory_path() / ("sparrow-err-" + std::to_string(getpid()));
  fs::remove(err_path);
  std::vector<std::string> argv = {SPARROW_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const fs::path cwd = fs::current_path();
  fs::current_path(SPARROW_SOURCE_DIR);
  process::SpawnOptions o;
  o.capture_stdout = true;
  o.stderr_path = err_path;
  auto child = process::ChildProcess::Spawn(argv, o);
  fs::current_path(cwd);
  Outcome r;
  if (!child.ok()) return r;
  r.out = child->ReadAllStdout();
  r.exit = child->Wait(timeout_ms).value_or(-999);
  std::ifstream e(err_path);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  fs::remove(err_path);
  return r;
}

// Starts `sparrow args...` in the background, with the repository as working directory,
// its stdout and stderr appended to `out_path` and `err_path`. Not thread-safe (as
// Sparrow()).
inline Result<process::ChildProcess> StartSparrow(const std::vector<std::string>& args,
                                                  const std::string& out_path,
                                                  const std::string& err_path) {
  namespace fs = std::filesystem;
  std::vector<std::string> argv = {SPARROW_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  process::SpawnOptions o;
  o.stdout_path = out_path;
  o.stderr_path = err_path;
  const fs::path cwd = fs::current_path();
  fs::current_path(SPARROW_SOURCE_DIR);
  auto child = process::ChildProcess::Spawn(argv, o);
  fs::current_path(cwd);
  return child;
}

// The whole content of a file ("" if it cannot be read).
inline std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh, empty directory named for the test and this process.
inline std::string TempDir(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path p =
      fs::temp_directory_path() / ("sparrow-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

inline nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace sparrow::testing
