#include "models/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

namespace sparrow::models {
namespace {

// exp(m), continued as its tangent line above kMaxExpMargin so it never overflows.
double ExpClamped(double m) {
  if (m <= kMaxExpMargin) return std::exp(m);
  return std::exp(kMaxExpMargin) * (1.0 + (m - kMaxExpMargin));
}

double Sigmoid(double m) {
  if (m >= 0) return 1.0 / (1.0 + std::exp(-m));
  const double e = std::exp(m);
  return e / (1.0 + e);
}

// log(1 + exp(m)) without overflow for large m or loss of precision for very negative m.
double Softplus(double m) {
  return m > 0 ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m));
}

// Non-zeros [begin, end) of one row: the positions into keys/values/fields/slot.
struct Span {
  size_t begin;
  size_t end;
};

Span RowSpan(const data::Batch& batch, size_t r) {
  return {static_cast<size_t>(batch.row_offsets[r]), static_cast<size_t>(batch.row_offsets[r + 1])};
}

template <typename Real>
Real LinearTerm(const data::Batch& batch, const uint32_t* slot, const Real* w, Span s) {
  Real sum = 0;
  for (size_t i = s.begin; i < s.end; ++i) sum += w[slot[i]] * batch.values[i];
  return sum;
}

// FM pairwise term of one row by the O(nnz k) identity; leaves sums[f] = sum_i v_if x_i
// for the backward pass and for contributions.
template <typename Real>
Real FmPairTerm(const data::Batch& batch, const uint32_t* slot, const Real* v, uint32_t k, Span s,
                Real* sums) {
  std::fill(sums, sums + k, Real{0});
  Real squares = 0;
  for (size_t i = s.begin; i < s.end; ++i) {
    const Real x = batch.values[i];
    const Real* vi = v + size_t{slot[i]} * k;
    for (uint32_t f = 0; f < k; ++f) {
      const Real t = vi[f] * x;
      sums[f] += t;
      squares += t * t;
    }
  }
  Real total = 0;
  for (uint32_t f = 0; f < k; ++f) total += sums[f] * sums[f];
  return Real{0.5} * (total - squares);
}

template <typename Real>
Real Dot(const Real* a, const Real* b, uint32_t k) {
  Real sum = 0;
  for (uint32_t j = 0; j < k; ++j) sum += a[j] * b[j];
  return sum;
}

// Four floats as one vector register (a GCC/Clang vector extension, so it builds for any
// target with 128-bit vectors). Kept for float blocks whose size K is a multiple of 4: the
// compiler does not vectorise the scalar loops itself, because the gradient and parameter
// buffers might alias and because Dot's additions are ordered.
typedef float Float4 __attribute__((vector_size(16)));

inline Float4 Load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void Store4(float* p, Float4 v) {
  std::memcpy(p, &v, sizeof(v));
}

template <typename Real, uint32_t K>
constexpr bool kVectorBlocks = std::is_same_v<Real, float>&& K > 0 && K % 4 == 0;

// Dot of two K-float blocks: the products four at a time, then added left to right in
// exactly the order of Dot, so the result is bit-identical.
template <uint32_t K>
float DotBlock(const float* a, const float* b) {
  float sum = 0;
  for (uint32_t q = 0; q < K; q += 4) {
    const Float4 p = Load4(a + q) * Load4(b + q);
    sum += p[0];
    sum += p[1];
    sum += p[2];
    sum += p[3];
  }
  return sum;
}

// g[0..K) += c * v[0..K), lane by lane: the same operations as the scalar loop.
template <uint32_t K>
void AddScaledBlock(float* g, float c, const float* v) {
  for (uint32_t q = 0; q < K; q += 4) Store4(g + q, Load4(g + q) + c * Load4(v + q));
}

// <a, b> over a k-element block (k == K when K > 0): on vectors where kVectorBlocks.
template <typename Real, uint32_t K>
Real BlockDot(const Real* a, const Real* b, uint32_t k) {
  if constexpr (kVectorBlocks<Real, K>) {
    return DotBlock<K>(a, b);
  } else {
    return Dot(a, b, k);
  }
}

// g[0..k) += c * v[0..k) (k == K when K > 0): on vectors where kVectorBlocks.
template <typename Real, uint32_t K>
void BlockAddScaled(Real* g, Real c, const Real* v, uint32_t k) {
  if constexpr (kVectorBlocks<Real, K>) {
    AddScaledBlock<K>(g, c, v);
  } else {
    for (uint32_t j = 0; j < k; ++j) g[j] += c * v[j];
  }
}

// Calls fn(std::integral_constant<uint32_t, K>) with K == k for the common factor sizes,
// K == 0 (meaning "use k") otherwise: the FFM pair loops run k-wide for every pair of a
// row, and a compile-time k lets them unroll into a few vector instructions. Same
// arithmetic in the same order either way, so results do not depend on the path.
template <typename Fn>
void WithFactorSize(uint32_t k, Fn&& fn) {
  switch (k) {
    case 4:
      return fn(std::integral_constant<uint32_t, 4>{});
    case 8:
      return fn(std::integral_constant<uint32_t, 8>{});
    default:
      return fn(std::integral_constant<uint32_t, 0>{});
  }
}

// Calls fn(i, j, a, b, xx) for every pair i < j of the row, where a = v_{i,field(j)} and
// b = v_{j,field(i)} are the two factor blocks the pair uses and xx = x_i x_j.
template <typename Real, typename Fn>
void ForEachFfmPair(const data::Batch& batch, const uint32_t* slot, uint32_t k, uint32_t width,
                    Span s, Fn&& fn) {
  const uint32_t* fields = batch.fields.data();
  for (size_t i = s.begin; i < s.end; ++i) {
    const Real xi = batch.values[i];
    const size_t row_i = size_t{slot[i]} * width;
    const size_t field_i = fields[i];
    for (size_t j = i + 1; j < s.end; ++j) {
      const size_t a = row_i + size_t{fields[j]} * k;
      const size_t b = size_t{slot[j]} * width + field_i * k;
      fn(i, j, a, b, xi * static_cast<Real>(batch.values[j]));
    }
  }
}

template <typename Real>
Real FfmPairTerm(const data::Batch& batch, const uint32_t* slot, const Real* v, uint32_t k,
                 uint32_t width, Span s) {
  Real pair = 0;
  WithFactorSize(k, [&](auto K) {
    const uint32_t kk = K() ? K() : k;
    ForEachFfmPair<Real>(batch, slot, kk, width, s,
                         [&](size_t, size_t, size_t a, size_t b, Real xx) {
                           pair += BlockDot<Real, K()>(v + a, v + b, kk) * xx;
                         });
  });
  return pair;
}

// Margin of row r. For FM, sums must hold k entries and is left as FmPairTerm leaves it.
template <typename Real>
Real RowMargin(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
               const BasicParams<Real>& p, size_t r, Real* sums) {
  const Span s = RowSpan(batch, r);
  Real m = p.bias + static_cast<Real>(batch.offsets[r]) + LinearTerm(batch, slot, p.w, s);
  switch (spec.kind) {
    case ModelKind::kLR:
      break;
    case ModelKind::kFM:
      m += FmPairTerm(batch, slot, p.v, spec.k, s, sums);
      break;
    case ModelKind::kFFM:
      m += FfmPairTerm(batch, slot, p.v, spec.k, spec.FactorWidth(), s);
      break;
  }
  return m;
}

// Adds g * d(margin)/d(params) of row r into grads (bias excluded). For FM, sums must be
// what RowMargin left for this row.
template <typename Real>
void RowBackward(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
                 const BasicParams<Real>& p, size_t r, const Real* sums, Real g,
                 BasicGrads<Real>* grads) {
  const Span s = RowSpan(batch, r);
  for (size_t i = s.begin; i < s.end; ++i) grads->w[slot[i]] += g * batch.values[i];
  const uint32_t k = spec.k;
  switch (spec.kind) {
    case ModelKind::kLR:
      break;
    case ModelKind::kFM:
      // d pair / d v_if = x_i (sums_f - v_if x_i).
      for (size_t i = s.begin; i < s.end; ++i) {
        const Real x = batch.values[i];
        const Real gx = g * x;
        const size_t row = size_t{slot[i]} * k;
        const Real* vi = p.v + row;
        Real* gi = grads->v + row;
        for (uint32_t f = 0; f < k; ++f) gi[f] += gx * (sums[f] - vi[f] * x);
      }
      break;
    case ModelKind::kFFM: {
      const Real* v = p.v;
      Real* gv = grads->v;
      // When a and b are the same block (a key paired with itself within its own field)
      // both updates land on it, which is the derivative of <a, a>.
      WithFactorSize(k, [&](auto K) {
        const uint32_t kk = K() ? K() : k;
        // Block a's update first, then b's: blocks are equal or disjoint, and when a == b
        // each element still gets its two updates in the same order.
        ForEachFfmPair<Real>(batch, slot, kk, spec.FactorWidth(), s,
                             [&](size_t, size_t, size_t a, size_t b, Real xx) {
                               const Real c = g * xx;
                               BlockAddScaled<Real, K()>(gv + a, c, v + b, kk);
                               BlockAddScaled<Real, K()>(gv + b, c, v + a, kk);
                             });
      });
      break;
    }
  }
}

// Scratch for FM's per-row sums; null otherwise. Grows once, then reuses.
template <typename Real>
Real* SumsScratch(const ModelSpec& spec, BasicWorkspace<Real>* ws) {
  if (spec.kind != ModelKind::kFM) return nullptr;
  if (ws->sums.size() < spec.k) ws->sums.resize(spec.k);
  return ws->sums.data();
}

}  // namespace

Status CheckBatch(const ModelSpec& spec, const data::Batch& batch) {
  if (spec.kind != ModelKind::kFFM) return Status::Ok();
  if (!batch.has_fields) return InvalidArgument("ffm needs field ids, but the data has none");
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Span s = RowSpan(batch, r);
    for (size_t i = s.begin; i < s.end; ++i) {
      if (batch.fields[i] >= spec.num_fields) {
        return InvalidArgument("row " + std::to_string(r) + ": field id " +
                               std::to_string(batch.fields[i]) + " >= num_fields " +
                               std::to_string(spec.num_fields));
      }
    }
  }
  return Status::Ok();
}

template <typename Real>
void Forward(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
             const BasicParams<Real>& params, Real* margins, BasicWorkspace<Real>* ws) {
  BasicWorkspace<Real> local;
  Real* sums = SumsScratch(spec, ws ? ws : &local);
  for (size_t r = 0; r < batch.rows(); ++r) {
    margins[r] = RowMargin(spec, batch, slot, params, r, sums);
  }
}

template <typename Real>
double ForwardBackward(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
                       const BasicParams<Real>& params, size_t num_unique, Real* margins,
                       BasicGrads<Real>* grads, BasicWorkspace<Real>* ws) {
  BasicWorkspace<Real> local;
  Real* sums = SumsScratch(spec, ws ? ws : &local);
  std::fill(grads->w, grads->w + num_unique, Real{0});
  const size_t width = spec.FactorWidth();
  if (width > 0) std::fill(grads->v, grads->v + num_unique * width, Real{0});
  grads->bias = 0;

  double loss = 0;
  for (size_t r = 0; r < batch.rows(); ++r) {
    const Real m = RowMargin(spec, batch, slot, params, r, sums);
    margins[r] = m;
    const double weight = batch.weights[r];
    if (weight == 0) continue;
    double row_loss, row_gradient;
    LossAndGradient(spec.objective, m, batch.labels[r], &row_loss, &row_gradient);
    loss += weight * row_loss;
    const double g = weight * row_gradient;
    grads->bias += g;
    RowBackward(spec, batch, slot, params, r, sums, static_cast<Real>(g), grads);
  }
  return loss;
}

template <typename Real>
void Contributions(const ModelSpec& spec, const data::Batch& batch, const uint32_t* slot,
                   const BasicParams<Real>& params, size_t row, Real* out,
                   BasicWorkspace<Real>* ws) {
  const Span s = RowSpan(batch, row);
  for (size_t i = s.begin; i < s.end; ++i) out[i - s.begin] = params.w[slot[i]] * batch.values[i];
  const uint32_t k = spec.k;
  switch (spec.kind) {
    case ModelKind::kLR:
      break;
    case ModelKind::kFM: {
      // Feature i's share: 1/2 sum_{j != i} <v_i, v_j> x_i x_j = 1/2 x_i <v_i, sums - v_i x_i>.
      BasicWorkspace<Real> local;
      Real* sums = SumsScratch(spec, ws ? ws : &local);
      FmPairTerm(batch, slot, params.v, k, s, sums);
      for (size_t i = s.begin; i < s.end; ++i) {
        const Real x = batch.values[i];
        const Real* vi = params.v + size_t{slot[i]} * k;
        Real share = 0;
        for (uint32_t f = 0; f < k; ++f) share += vi[f] * (sums[f] - vi[f] * x);
        out[i - s.begin] += Real{0.5} * x * share;
      }
      break;
    }
    case ModelKind::kFFM: {
      const Real* v = params.v;
      ForEachFfmPair<Real>(batch, slot, k, spec.FactorWidth(), s,
                           [&](size_t i, size_t j, size_t a, size_t b, Real xx) {
                             const Real half = Real{0.5} * Dot(v + a, v + b, k) * xx;
                             out[i - s.begin] += half;
                             out[j - s.begin] += half;
                           });
      break;
    }
  }
}

double Prediction(Objective objective, double margin) {
  switch (objective) {
    case Objective::kLogistic:
      return Sigmoid(margin);
    case Objective::kSquared:
      return margin;
    case Objective::kPoisson:
      return std::exp(std::min(margin, kMaxExpMargin));
  }
  return margin;
}

float Prediction(Objective objective, float margin) {
  return static_cast<float>(Prediction(objective, static_cast<double>(margin)));
}

double Loss(Objective objective, double margin, double label) {
  switch (objective) {
    case Objective::kLogistic:
      // -y log s(m) - (1-y) log(1-s(m)) = softplus(m) - y m.
      return Softplus(margin) - label * margin;
    case Objective::kSquared:
      return 0.5 * (margin - label) * (margin - label);
    case Objective::kPoisson:
      return ExpClamped(margin) - label * margin;
  }
  return 0;
}

void LossAndGradient(Objective objective, double margin, double label, double* loss,
                     double* gradient) {
  if (objective != Objective::kLogistic) {
    *loss = Loss(objective, margin, label);
    *gradient = LossGradient(objective, margin, label);
    return;
  }
  // Softplus and sigmoid from one exponential: e = exp(-|m|) <= 1 never overflows.
  const double e = std::exp(-std::fabs(margin));
  *loss = std::max(margin, 0.0) + std::log1p(e) - label * margin;
  *gradient = (margin >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e)) - label;
}

double LossGradient(Objective objective, double margin, double label) {
  switch (objective) {
    case Objective::kLogistic:
      return Sigmoid(margin) - label;
    case Objective::kSquared:
      return margin - label;
    case Objective::kPoisson:
      return std::exp(std::min(margin, kMaxExpMargin)) - label;
  }
  return 0;
}

template void Forward<float>(const ModelSpec&, const data::Batch&, const uint32_t*,
                             const BasicParams<float>&, float*, BasicWorkspace<float>*);
template void Forward<double>(const ModelSpec&, const data::Batch&, const uint32_t*,
                              const BasicParams<double>&, double*, BasicWorkspace<double>*);
template double ForwardBackward<float>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                       const BasicParams<float>&, size_t, float*,
                                       BasicGrads<float>*, BasicWorkspace<float>*);
template double ForwardBackward<double>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                        const BasicParams<double>&, size_t, double*,
                                        BasicGrads<double>*, BasicWorkspace<double>*);
template void Contributions<float>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                   const BasicParams<float>&, size_t, float*,
                                   BasicWorkspace<float>*);
template void Contributions<double>(const ModelSpec&, const data::Batch&, const uint32_t*,
                                    const BasicParams<double>&, size_t, double*,
                                    BasicWorkspace<double>*);

}  // namespace sparrow::models
