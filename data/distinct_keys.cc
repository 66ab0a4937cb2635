#include "data/distinct_keys.h"

#include <algorithm>
#include <cmath>

namespace sparrow::data {

void DistinctKeys::Merge(const DistinctKeys& other) {
  for (size_t i = 0; i < registers_.size(); ++i) {
    registers_[i] = std::max(registers_[i], other.registers_[i]);
  }
}

uint64_t DistinctKeys::Estimate() const {
  // Flajolet et al. 2007, with the small-range correction (linear counting) that
  // HyperLogLog++ (Heule et al. 2013) recommends below 2.5 m.
  const double m = static_cast<double>(registers_.size());
  double sum = 0;
  size_t zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -r);
    zeros += r == 0;
  }
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double e = alpha * m * m / sum;
  if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / static_cast<double>(zeros));
  return static_cast<uint64_t>(std::llround(e));
}

}  // namespace sparrow::data
