#include "server/optimizer.h"

namespace sparrow::server {
namespace {

float Or(float v, float dflt) {
  return v == 0.0f ? dflt : v;
}

}  // namespace

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
  p.column_salt.resize(p.width);
  for (uint32_t j = 0; j < p.width; ++j) p.column_salt[j] = ColumnSalt(p.init_seed, j);
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
