#include "models/model_spec.h"

#include <string>

namespace sparrow::models {

uint32_t ModelSpec::FactorWidth() const {
  switch (kind) {
    case ModelKind::kLR:
      return 0;
    case ModelKind::kFM:
      return k;
    case ModelKind::kFFM:
      return num_fields * k;
  }
  return 0;
}

Status ModelSpec::Validate() const {
  // A bound on the row width keeps num_fields * k from overflowing and catches configs
  // that would need gigabytes per thousand keys.
  constexpr uint64_t kMaxFactorWidth = uint64_t{1} << 20;
  if (kind == ModelKind::kLR) return Status::Ok();
  if (k == 0) return InvalidArgument(std::string(ModelKindName(kind)) + ": k must be > 0");
  if (kind == ModelKind::kFFM) {
    if (num_fields == 0) return InvalidArgument("ffm: num_fields must be > 0");
    if (uint64_t{num_fields} * k > kMaxFactorWidth) {
      return InvalidArgument("ffm: num_fields * k = " + std::to_string(uint64_t{num_fields} * k) +
                             " floats per key exceeds " + std::to_string(kMaxFactorWidth));
    }
  } else if (k > kMaxFactorWidth) {
    return InvalidArgument("fm: k = " + std::to_string(k) + " exceeds " +
                           std::to_string(kMaxFactorWidth));
  }
  return Status::Ok();
}

const char* ModelKindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kLR:
      return "lr";
    case ModelKind::kFM:
      return "fm";
    case ModelKind::kFFM:
      return "ffm";
  }
  return "?";
}

Result<ModelKind> ParseModelKind(std::string_view name) {
  if (name == "lr") return ModelKind::kLR;
  if (name == "fm") return ModelKind::kFM;
  if (name == "ffm") return ModelKind::kFFM;
  return InvalidArgument("unknown model kind '" + std::string(name) + "' (expected lr, fm or ffm)");
}

const char* ObjectiveName(Objective objective) {
  switch (objective) {
    case Objective::kLogistic:
      return "logistic";
    case Objective::kSquared:
      return "squared";
    case Objective::kPoisson:
      return "poisson";
  }
  return "?";
}

Result<Objective> ParseObjective(std::string_view name) {
  if (name == "logistic") return Objective::kLogistic;
  if (name == "squared") return Objective::kSquared;
  if (name == "poisson") return Objective::kPoisson;
  return InvalidArgument("unknown objective '" + std::string(name) +
                         "' (expected logistic, squared or poisson)");
}

}  // namespace sparrow::models
