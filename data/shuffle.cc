#include "data/shuffle.h"

#include <algorithm>
#include <numeric>

namespace sparrow::data {

ShuffleBuffer::ShuffleBuffer(size_t window, uint64_t seed, size_t batch_rows)
    : window_(window), batch_rows_(std::max<size_t>(batch_rows, 1)), rng_(seed) {}

Status ShuffleBuffer::Emit(const Batch& src, size_t row, const BatchSink& emit) {
  out_.AppendRow(src, row);
  if (out_.rows() < batch_rows_) return Status::Ok();
  Status st = emit(out_);
  out_.Clear();
  return st;
}

Status ShuffleBuffer::Add(const Batch& in, const BatchSink& emit) {
  pool_.has_fields = rest_.has_fields = out_.has_fields = in.has_fields;
  if (window_ == 0) {
    for (size_t r = 0; r < in.rows(); ++r) SPARROW_RETURN_IF_ERROR(Emit(in, r, emit));
    return Status::Ok();
  }
  size_t r = 0;
  while (r < in.rows()) {
    size_t take = std::min(in.rows() - r, window_ - pool_.rows());
    pool_.AppendRows(in, r, r + take);
    r += take;
    if (pool_.rows() >= window_) SPARROW_RETURN_IF_ERROR(Drain(window_ / 2, emit));
  }
  return Status::Ok();
}

Status ShuffleBuffer::Drain(size_t keep, const BatchSink& emit) {
  const size_t n = pool_.rows();
  perm_.resize(n);
  std::iota(perm_.begin(), perm_.end(), 0);
  std::shuffle(perm_.begin(), perm_.end(), rng_);
  const size_t send = n - std::min(keep, n);
  for (size_t i = 0; i < send; ++i) SPARROW_RETURN_IF_ERROR(Emit(pool_, perm_[i], emit));
  rest_.Clear();
  for (size_t i = send; i < n; ++i) rest_.AppendRow(pool_, perm_[i]);
  std::swap(pool_, rest_);
  return Status::Ok();
}

Status ShuffleBuffer::Flush(const BatchSink& emit) {
  SPARROW_RETURN_IF_ERROR(Drain(0, emit));
  if (out_.rows() == 0) return Status::Ok();
  Status st = emit(out_);
  out_.Clear();
  return st;
}

}  // namespace sparrow::data
