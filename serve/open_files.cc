#include "serve/open_files.h"

#include <sys/resource.h>

namespace sparrow::serve {

uint64_t RaiseOpenFileLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    rlimit want = r;
    want.rlim_cur = r.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) r = want;
  }
  return static_cast<uint64_t>(r.rlim_cur);
}

}  // namespace sparrow::serve
