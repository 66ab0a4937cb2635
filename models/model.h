// LR, FM and FFM as plain functions over a batch and the rows pulled for its unique keys.
//
// One implementation serves training (ForwardBackward), `sparrow predict`, `sparrow eval`
// and the scoring daemon (Forward, Prediction, Contributions), so training and serving
// never disagree about a margin.
//
// Layout. The caller deduplicates the batch's keys (data::UniqueKeys) and pulls, for each
// unique key u, row u of table "w" (1 float) and of table "v" (spec.FactorWidth() floats,
// contiguous: v[u * FactorWidth() + j]). slot[i] is the unique index of batch.keys[i].
// For FFM, key u's row holds num_fields blocks of k floats; block f is the one used when
// the key interacts with a feature of field f.
//
// The margin of row r, over its non-zeros i (positions row_offsets[r] .. row_offsets[r+1]):
//   m = bias + offsets[r] + sum_i w_i x_i + pair
//   LR:  pair = 0
//   FM:  pair = sum_{i<j} <v_i, v_j> x_i x_j
//            = 1/2 sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]      (O(nnz k))
//   FFM: pair = sum_{i<j} <v_{i,field(j)}, v_{j,field(i)}> x_i x_j       (O(nnz^2 k))
// A key repeated within a row counts as two features (the formula runs over positions).
//
// Functions are templates on the real type so that tests can check gradients in double;
// float and double are instantiated in model.cc. Production code uses the float aliases.
//
// Hot paths allocate nothing per row or key: the only scratch is a Workspace, which grows
// once to k floats and is reused across calls.
//
// Thread safety: pure functions; concurrent calls need distinct outputs and workspaces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "data/batch.h"
#include "models/model_spec.h"

namespace sparrow::models {

// The pulled parameters of a batch's unique keys. Not owned. v is null for LR.
template <typename Real>
struct BasicParams {
  const Real* w = nullptr;  // num_unique floats
  const Real* v = nullptr;  // num_unique * FactorWidth() floats; null for LR
  Real bias = 0;
};
using Params = BasicParams<float>;

// Gradients in the same shapes as BasicParams. Not owned; ForwardBackward overwrites them.
// v may be null for LR. bias is accumulated in double (it sums over every row).
template <typename Real>
struct BasicGrads {
  Real* w = nullptr;
  Real* v = nullptr;
  double bias = 0;
};
using Grads = BasicGrads<float>;

// Reusable scratch (per-row factor sums for FM). One per thread; keep it across calls so
// steady state allocates nothing.
template <typename Real>
struct BasicWorkspace {
  std::vector<Real> sums;
};
using Workspace = BasicWorkspace<float>;

// Above this margin a Poisson model's prediction and gradient use exp(kMaxExpMargin) and its
// loss continues exp(m) as the tangent line (so the gradient stays its derivative): all
// stay finite. exp(30) ~ 1e13 expected events is already nonsense; past it we only need
// training not to produce inf or NaN.
inline constexpr double kMaxExpMargin = 30.0;

// Checks that the batch fits the spec: FFM needs has_fields and every field id
// < num_fields. Returns InvalidArgument naming the first offending row otherwise. O(nnz);
// call once per batch from untrusted sources (the hot functions below assume it holds).
Status CheckBatch(const ModelSpec& spec, const data::Batch& batch);

// Writes margins[r] for every row of the batch.
// Requires: spec.Validate() and CheckBatch() OK; slot has batch.nnz() entries indexing
// params rows; margins has batch.rows() entries. ws may be null (then a temporary is
// allocated for the call).
template <typename Real>
void Forward(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
             const BasicParams<Real>& params, Real* margins, BasicWorkspace<Real>* ws = nullptr);

// Forward plus gradients of the weighted loss sum_r weight_r * Loss(m_r, label_r) with
// respect to the pulled rows and the bias. Zeroes grads->w (num_unique floats),
// grads->v (num_unique * FactorWidth() floats, if FactorWidth() > 0) and grads->bias,
// then accumulates: a key used by several rows (or twice in one row) sums its gradients.
// Returns the weighted loss sum (not the mean; divide by the weight sum for a mean).
// Requires: as Forward; grads->w non-null, grads->v non-null unless LR.
template <typename Real>
double ForwardBackward(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
                       const BasicParams<Real>& params, size_t num_unique, Real* margins,
                       BasicGrads<Real>* grads, BasicWorkspace<Real>* ws = nullptr);

// Per-feature contributions to row `row`'s margin, for reason codes: out[i] for the i-th
// non-zero of the row (out has row_offsets[row+1] - row_offsets[row] entries).
// LR: w_i x_i. FM/FFM: w_i x_i plus half of every pairwise term feature i takes part in,
// so that sum_i out[i] == margin - bias - offset. Positive values push the score up.
// Requires: as Forward; row < batch.rows().
template <typename Real>
void Contributions(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
                   const BasicParams<Real>& params, size_t row, Real* out,
                   BasicWorkspace<Real>* ws = nullptr);

// The prediction for a margin: probability (logistic), value (squared) or expected count
// (Poisson, which includes the exposure through the offset).
float Prediction(Objective objective, float margin);
double Prediction(Objective objective, double margin);

// Loss of one row, unweighted: logloss (natural log, computed stably), 1/2 (m - y)^2, or
// exp(m) - y m for Poisson (the negative log-likelihood up to log(y!)).
double Loss(Objective objective, double margin, double label);

// d Loss / d margin: sigmoid(m) - y, m - y, or exp(m) - y.
double LossGradient(Objective objective, double margin, double label);

// Both at once, as training needs them; for the logistic loss from one exponential.
void LossAndGradient(Objective objective, double margin, double label, double* loss,
                     double* gradient);

extern template void Forward<float>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                    const BasicParams<float>&, float*, BasicWorkspace<float>*);
extern template void Forward<double>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                     const BasicParams<double>&, double*, BasicWorkspace<double>*);
extern template double ForwardBackward<float>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                              const BasicParams<float>&, size_t, float*,
                                              BasicGrads<float>*, BasicWorkspace<float>*);
extern template double ForwardBackward<double>(const ModelSpec&, const data::Batch&,
                                               const uint32_t*, const BasicParams<double>&, size_t,
                                               double*, BasicGrads<double>*,
                                               BasicWorkspace<double>*);
extern template void Contributions<float>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                          const BasicParams<float>&, size_t, float*,
                                          BasicWorkspace<float>*);
extern template void Contributions<double>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                           const BasicParams<double>&, size_t, double*,
                                           BasicWorkspace<double>*);

}  // namespace sparrow::models
