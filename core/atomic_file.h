// Replacing a small file whole: a reader sees the old content or the new, never part of
// either, and after a crash the new content is either all there or not at all.
//
// Thread safety: free function; concurrent writers of one path each leave a whole file.
#pragma once

#include <string>

#include "core/status.h"

namespace sparrow {

// Writes `bytes` to PATH.tmp-<pid>, fsyncs it, renames it over `path` and fsyncs the
// directory. On failure the temporary is removed, `path` is untouched, and the status
// names the step and the file.
Status WriteFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace sparrow
