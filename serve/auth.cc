#include "serve/auth.h"

namespace sparrow::serve {

bool BearerMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() < kPrefix.size() || header.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view given = header.substr(kPrefix.size());
  // Compare over the token's length whatever was given; fold the length difference in.
  unsigned diff = given.size() != token.size() ? 1u : 0u;
  for (size_t i = 0; i < token.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(token[i]);
  }
  // Keep the compiler from turning the loop into an early exit.
  volatile unsigned sink = diff;
  return sink == 0;
}

}  // namespace sparrow::serve
