// Bearer-token checks for the daemon's endpoints.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

namespace sparrow::serve {

// Whether `header` (an Authorization header value, may be empty) is "Bearer <token>".
// Takes time that depends on the lengths only, never on where the bytes first differ, so
// the token cannot be guessed byte by byte from response times.
bool BearerMatches(std::string_view header, std::string_view token);

}  // namespace sparrow::serve
