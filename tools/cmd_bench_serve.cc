#include "tools/serve_commands.h"
namespace sparrow::tools {
int RunBenchServe(const std::vector<std::string>&) {
  return 1;
}
}  // namespace sparrow::tools
