#include "server/optimizer.h"

namespace sparrow::server {
namespace {

uint64_t Mix(uint64_t x) {
  // SplitMix64's finaliser: a bijection with full avalanche.
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

float Or(float v, float dflt) {
  return v == 0.0f ? dflt : v;
}

}  // namespace

float InitialWeight(uint64_t key, uint64_t seed, uint32_t column, float scale) {
  if (scale == 0.0f) return 0.0f;
  const uint64_t h = Mix(key ^ Mix(seed ^ (static_cast<uint64_t>(column) << 32)));
  const double u = static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
  return static_cast<float>((2.0 * u - 1.0) * scale);
}

RuleParams RuleParams::FromSpec(const wire::TableSpec& s) {
  RuleParams p;
  p.width = s.width() == 0 ? 1 : s.width();
  p.lr = Or(s.learning_rate(), s.optimizer() == wire::ADAM ? 0.001f : 0.01f);
  p.alpha = Or(s.alpha(), 0.05f);
  p.beta = Or(s.beta(), 1.0f);
  p.l1 = s.l1();
  p.l2 = s.l2();
  p.eps = Or(s.epsilon(), s.optimizer() == wire::ADAGRAD ? 1e-6f : 1e-8f);
  p.beta1 = Or(s.beta1(), 0.9f);
  p.beta2 = Or(s.beta2(), 0.999f);
  p.initial_accumulator = s.initial_accumulator();
  p.init_scale = s.init_scale();
  p.init_seed = s.init_seed();
  return p;
}

uint32_t StateFloats(wire::OptimizerKind kind, uint32_t width) {
  switch (kind) {
    case wire::ADAGRAD:
      return AdaGradRule::StateFloats(width);
    case wire::FTRL:
      return FtrlRule::StateFloats(width);
    case wire::ADAM:
      return AdamRule::StateFloats(width);
    default:
      return SgdRule::StateFloats(width);
  }
}

}  // namespace sparrow::server
