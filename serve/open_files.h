// The open-file limit. Every connection is a descriptor: a daemon holding thousands of
// connections, or a client opening them, needs more than the common soft default of 1024.
#pragma once

#include <cstdint>

namespace sparrow::serve {

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (no privilege needed)
// and returns the soft limit in force afterwards. Children inherit it.
uint64_t RaiseOpenFileLimit();

}  // namespace sparrow::serve
