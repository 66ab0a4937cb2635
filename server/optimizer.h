// Optimizers: the update rule a server applies when a gradient is pushed, and the layout
// of the state it keeps beside the weights.
//
// A row holds `width` weights' worth of state, column-major by quantity:
//   SGD      [w x width]
//   AdaGrad  [w x width | g2 x width]
//   FTRL     [z x width | n x width]              (w is a function of z and n)
//   Adam     [w x width | m x width | v x width | t]
// so FTRL with width 1 keeps 8 bytes a key. Every rule is a small value type with inline
// Init/Update/Weights, called per key inside the store's loops (no virtual call per key).
//
// New rows are initialised from (key, seed, column) alone, so a model does not depend on
// which server holds a key or in which order keys arrived.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "proto/wire.pb.h"

namespace sparrow::server {

namespace internal {
// SplitMix64's finaliser: a bijection with full avalanche.
inline uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace internal

// The part of InitialWeight that depends on (seed, column) only, computed once per column
// (RuleParams::column_salt) rather than once per new row.
inline uint64_t ColumnSalt(uint64_t seed, uint32_t column) {
  return internal::Mix(seed ^ (static_cast<uint64_t>(column) << 32));
}

// InitialWeight(key, seed, column, scale) given salt == ColumnSalt(seed, column).
inline float SaltedInitialWeight(uint64_t key, uint64_t salt, float scale) {
  if (scale == 0.0f) return 0.0f;
  const uint64_t h = internal::Mix(key ^ salt);
  const double u = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
  return static_cast<float>((2.0 * u - 1.0) * scale);
}

// Uniform in [-scale, scale], a pure function of (key, seed, column).
inline float InitialWeight(uint64_t key, uint64_t seed, uint32_t column, float scale) {
  return SaltedInitialWeight(key, ColumnSalt(seed, column), scale);
}

struct RuleParams {
  uint32_t width = 1;
  float lr = 0.01f;
  float alpha = 0.05f, beta = 1.0f, l1 = 0.0f, l2 = 0.0f;
  float eps = 1e-8f, beta1 = 0.9f, beta2 = 0.999f;
  float initial_accumulator = 0.0f;
  float init_scale = 0.0f;
  uint64_t init_seed = 0;
  // ColumnSalt(init_seed, j) for each column j < width; the rules read it, so RuleParams
  // come from FromSpec.
  std::vector<uint64_t> column_salt;

  // Defaults for fields the spec leaves at 0 where 0 makes no sense (alpha, beta, lr, ...).
  static RuleParams FromSpec(const wire::TableSpec& spec);
};

struct SgdRule {
  RuleParams p;
  static constexpr uint32_t StateFloats(uint32_t width) { return width; }
  void Init(uint64_t key, float* row) const {
    for (uint32_t j = 0; j < p.width; ++j)
      row[j] = SaltedInitialWeight(key, p.column_salt[j], p.init_scale);
  }
  void Update(float* row, const float* g) const {
    for (uint32_t j = 0; j < p.width; ++j) row[j] -= p.lr * (g[j] + p.l2 * row[j]);
  }
  void Weights(const float* row, float* out) const {
    for (uint32_t j = 0; j < p.width; ++j) out[j] = row[j];
  }
};

struct AdaGradRule {
  RuleParams p;
  static constexpr uint32_t StateFloats(uint32_t width) { return 2 * width; }
  void Init(uint64_t key, float* row) const {
    for (uint32_t j = 0; j < p.width; ++j) {
      row[j] = SaltedInitialWeight(key, p.column_salt[j], p.init_scale);
      row[p.width + j] = p.initial_accumulator;
    }
  }
  void Update(float* row, const float* g) const {
    float* w = row;
    float* g2 = row + p.width;
    for (uint32_t j = 0; j < p.width; ++j) {
      const float gj = g[j] + p.l2 * w[j];
      g2[j] += gj * gj;
      w[j] -= p.lr * gj / (std::sqrt(g2[j]) + p.eps);
    }
  }
  void Weights(const float* row, float* out) const {
    for (uint32_t j = 0; j < p.width; ++j) out[j] = row[j];
  }
};

// FTRL-Proximal (McMahan et al., 2013, Algorithm 1), per coordinate.
struct FtrlRule {
  RuleParams p;
  static constexpr uint32_t StateFloats(uint32_t width) { return 2 * width; }
  float Weight(float z, float n) const {
    if (std::fabs(z) <= p.l1) return 0.0f;
    const float sign = z < 0 ? -1.0f : 1.0f;
    return -(z - sign * p.l1) / ((p.beta + std::sqrt(n)) / p.alpha + p.l2);
  }
  void Init(uint64_t key, float* row) const {
    for (uint32_t j = 0; j < p.width; ++j) {
      const float w0 = SaltedInitialWeight(key, p.column_salt[j], p.init_scale);
      // Choose z so that Weight(z, 0) == w0.
      const float sign = w0 < 0 ? -1.0f : 1.0f;
      row[j] = w0 == 0.0f ? 0.0f : -w0 * (p.beta / p.alpha + p.l2) - sign * p.l1;
      row[p.width + j] = 0.0f;
    }
  }
  void Update(float* row, const float* g) const {
    float* z = row;
    float* n = row + p.width;
    for (uint32_t j = 0; j < p.width; ++j) {
      const float w = Weight(z[j], n[j]);
      const float gg = g[j] * g[j];
      const float sigma = (std::sqrt(n[j] + gg) - std::sqrt(n[j])) / p.alpha;
      z[j] += g[j] - sigma * w;
      n[j] += gg;
    }
  }
  void Weights(const float* row, float* out) const {
    for (uint32_t j = 0; j < p.width; ++j) out[j] = Weight(row[j], row[p.width + j]);
  }
};

// Adam with a per-row step count (sparse rows are updated at different rates).
struct AdamRule {
  RuleParams p;
  static constexpr uint32_t StateFloats(uint32_t width) { return 3 * width + 1; }
  void Init(uint64_t key, float* row) const {
    for (uint32_t j = 0; j < p.width; ++j) {
      row[j] = SaltedInitialWeight(key, p.column_salt[j], p.init_scale);
      row[p.width + j] = 0.0f;
      row[2 * p.width + j] = 0.0f;
    }
    row[3 * p.width] = 0.0f;
  }
  void Update(float* row, const float* g) const {
    float* w = row;
    float* m = row + p.width;
    float* v = row + 2 * p.width;
    float& t = row[3 * p.width];
    t += 1.0f;
    const float c1 = 1.0f - std::pow(p.beta1, t);
    const float c2 = 1.0f - std::pow(p.beta2, t);
    for (uint32_t j = 0; j < p.width; ++j) {
      const float gj = g[j] + p.l2 * w[j];
      m[j] = p.beta1 * m[j] + (1.0f - p.beta1) * gj;
      v[j] = p.beta2 * v[j] + (1.0f - p.beta2) * gj * gj;
      w[j] -= p.lr * (m[j] / c1) / (std::sqrt(v[j] / c2) + p.eps);
    }
  }
  void Weights(const float* row, float* out) const {
    for (uint32_t j = 0; j < p.width; ++j) out[j] = row[j];
  }
};

// Floats of state per key for `kind` at `width`.
uint32_t StateFloats(wire::OptimizerKind kind, uint32_t width);

}  // namespace sparrow::server
