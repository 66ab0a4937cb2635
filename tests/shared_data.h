// The real public data sets under ../shared/data that some tests read.
//
// CI has them, so there a test that needs one and does not find it fails: scripts/test.sh
// sets SPARROW_REQUIRE_SHARED_DATA=1. Elsewhere (a checkout without ../shared) such a test
// skips, saying what is missing. Only data from outside the repository may be missed this
// way; anything the repository holds or a test can generate must be there.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace sparrow::testing {

inline bool SharedDataRequired() {
  const char* v = std::getenv("SPARROW_REQUIRE_SHARED_DATA");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

// Path of `rel` under ../shared/data, whether or not it exists.
inline std::string SharedPath(const std::string& rel) {
  return std::string(SPARROW_SHARED_DATA) + "/" + rel;
}

}  // namespace sparrow::testing

// Ends the calling test (which must return void) unless ../shared/data/<rel> exists:
// a failure where the data is required, else a skip.
#define SPARROW_NEED_SHARED_DATA(rel)                                                   \
  do {                                                                                  \
    const std::string sparrow_need_path_ = ::sparrow::testing::SharedPath(rel);         \
    if (!std::filesystem::exists(sparrow_need_path_)) {                                 \
      if (::sparrow::testing::SharedDataRequired()) {                                   \
        FAIL() << sparrow_need_path_ << " is missing, and SPARROW_REQUIRE_SHARED_DATA " \
               << "says this run must have it";                                         \
      }                                                                                 \
      GTEST_SKIP() << sparrow_need_path_ << " is absent";                               \
    }                                                                                   \
  } while (0)
