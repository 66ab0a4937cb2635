// ModelSpec: which model (LR, FM, FFM), which objective, and the factor shape.
//
// The spec decides the width of the factor table "v" that a worker pulls per key:
// LR has none, FM has k factors, FFM has k factors for each of num_fields fields (block f
// is used when the key interacts with a feature of field f). The linear table "w" always
// has width 1.
//
// Thread safety: value types and pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace sparrow::models {

enum class ModelKind { kLR, kFM, kFFM };

// The loss a model minimises, and how a margin m becomes a prediction:
//   kLogistic: label in [0, 1], prediction sigmoid(m) (a probability), logloss;
//   kSquared:  any real label, prediction m, loss 1/2 (m - y)^2;
//   kPoisson:  label a count, prediction exp(m) (an expected count; the row's offset,
//              ln exposure, is part of m), loss exp(m) - y m (negative log-likelihood up
//              to a term that does not depend on the model).
enum class Objective { kLogistic, kSquared, kPoisson };

struct ModelSpec {
  ModelKind kind = ModelKind::kLR;
  Objective objective = Objective::kLogistic;
  uint32_t k = 0;           // factor size; required > 0 for FM and FFM
  uint32_t num_fields = 0;  // FFM only: field ids of a batch must be < num_fields

  // Floats per key in table "v": 0 for LR, k for FM, num_fields * k for FFM.
  uint32_t FactorWidth() const;

  // OK, or InvalidArgument naming what is wrong (k == 0 for FM/FFM, num_fields == 0 for
  // FFM, a factor row wider than 2^20 floats).
  Status Validate() const;
};

// "lr", "fm", "ffm".
const char* ModelKindName(ModelKind kind);
// Parses "lr", "fm" or "ffm" (lower case); anything else is InvalidArgument.
Result<ModelKind> ParseModelKind(std::string_view name);

// "logistic", "squared", "poisson".
const char* ObjectiveName(Objective objective);
// Parses "logistic", "squared" or "poisson" (lower case); anything else is InvalidArgument.
Result<Objective> ParseObjective(std::string_view name);

}  // namespace sparrow::models
