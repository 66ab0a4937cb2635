#include "server/table.h"

#include <cmath>

namespace sparrow::server {
namespace {

// How far ahead a batched loop prefetches: enough to hide a DRAM miss behind the
// optimizer arithmetic of the keys in between.
constexpr size_t kPrefetchDistance = 12;

std::variant<SgdRule, AdaGradRule, FtrlRule, AdamRule> MakeRule(wire::OptimizerKind k,
                                                                const RuleParams& p) {
  switch (k) {
    case wire::ADAGRAD:
      return AdaGradRule{p};
    case wire::FTRL:
      return FtrlRule{p};
    case wire::ADAM:
      return AdamRule{p};
    default:
      return SgdRule{p};
  }
}

bool Finite(float v) {
  return std::isfinite(v);
}

}  // namespace

Result<std::unique_ptr<Table>> Table::Create(const wire::TableSpec& spec, size_t expected_keys) {
  const std::string where = "table " + std::to_string(spec.id()) +
                            (spec.name().empty() ? "" : " ('" + spec.name() + "')");
  if (spec.width() == 0 || spec.width() > 4096) {
    return InvalidArgument(where + ": width must be in [1, 4096], got " +
                           std::to_string(spec.width()));
  }
  if (spec.optimizer() == wire::OPTIMIZER_UNSPECIFIED ||
      !wire::OptimizerKind_IsValid(spec.optimizer())) {
    return InvalidArgument(where + ": optimizer must be SGD, ADAGRAD, FTRL or ADAM");
  }
  for (float v :
       {spec.learning_rate(), spec.alpha(), spec.beta(), spec.l1(), spec.l2(), spec.epsilon(),
        spec.beta1(), spec.beta2(), spec.init_scale(), spec.initial_accumulator()}) {
    if (!Finite(v) || v < 0) {
      return InvalidArgument(where + ": hyper-parameters must be finite and non-negative");
    }
  }
  if (spec.beta1() >= 1.0f || spec.beta2() >= 1.0f) {
    return InvalidArgument(where + ": Adam's beta1 and beta2 must be below 1");
  }
  return std::unique_ptr<Table>(new Table(spec, RuleParams::FromSpec(spec), expected_keys));
}

Table::Table(const wire::TableSpec& spec, RuleParams params, size_t expected_keys)
    : spec_(spec),
      params_(params),
      rule_(MakeRule(spec.optimizer(), params)),
      rows_(StateFloats(spec.optimizer(), params.width), expected_keys) {}

void Table::Push(const uint64_t* keys, const float* grads, size_t n) {
  const uint32_t w = width();
  std::visit(
      [&](const auto& rule) {
        for (size_t i = 0; i < n; ++i) {
          if (i + kPrefetchDistance < n) rows_.Prefetch(keys[i + kPrefetchDistance]);
          bool inserted;
          float* row = rows_.FindOrInsert(keys[i], &inserted);
          if (inserted) rule.Init(keys[i], row);
          rule.Update(row, grads + i * w);
        }
      },
      rule_);
}

void Table::Pull(const uint64_t* keys, size_t n, float* out) const {
  const uint32_t w = width();
  std::vector<float> fresh;
  std::visit(
      [&](const auto& rule) {
        for (size_t i = 0; i < n; ++i) {
          if (i + kPrefetchDistance < n) rows_.Prefetch(keys[i + kPrefetchDistance]);
          const float* row = rows_.Find(keys[i]);
          if (row != nullptr) {
            rule.Weights(row, out + i * w);
          } else {
            fresh.resize(rows_.row_floats());
            rule.Init(keys[i], fresh.data());
            rule.Weights(fresh.data(), out + i * w);
          }
        }
      },
      rule_);
}

wire::TableStats Table::Stats() const {
  wire::TableStats s;
  s.set_table(spec_.id());
  s.set_keys(rows_.size());
  s.set_bytes(rows_.bytes() + sizeof(*this));
  s.set_capacity(rows_.capacity());
  return s;
}

}  // namespace sparrow::server
