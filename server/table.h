// Table: one named table of a model on one server — its spec, its optimizer, its rows.
//
// Push applies gradients through the optimizer (inserting and initialising new keys);
// Pull returns weights only (never optimizer state), computing a never-pushed key's initial
// weights without storing it, so reading does not grow the table.
//
// Thread safety: none; the server's request thread owns its tables.
#pragma once

#include <memory>
#include <variant>

#include "core/status.h"
#include "proto/wire.pb.h"
#include "server/optimizer.h"
#include "server/sparse_table.h"

namespace sparrow::server {

class Table {
 public:
  // Validates the spec (width, optimizer, hyper-parameters). `expected_keys` sizes the
  // arena for this server's share (0: grow on demand).
  static Result<std::unique_ptr<Table>> Create(const wire::TableSpec& spec, size_t expected_keys);

  const wire::TableSpec& spec() const { return spec_; }
  uint32_t width() const { return params_.width; }

  // grads: n x width floats, row-major.
  void Push(const uint64_t* keys, const float* grads, size_t n);
  // out: n x width floats.
  void Pull(const uint64_t* keys, size_t n, float* out) const;

  wire::TableStats Stats() const;

  // Calls f(key, const float* weights) for every stored key (weights: width floats).
  template <typename F>
  void ForEachWeights(F f) const {
    std::vector<float> w(width());
    std::visit(
        [&](const auto& rule) {
          rows_.ForEach([&](uint64_t k, const float* row) {
            rule.Weights(row, w.data());
            f(k, w.data());
          });
        },
        rule_);
  }

 private:
  Table(const wire::TableSpec& spec, RuleParams params, size_t expected_keys);

  wire::TableSpec spec_;
  RuleParams params_;
  std::variant<SgdRule, AdaGradRule, FtrlRule, AdamRule> rule_;
  SparseTable rows_;
};

}  // namespace sparrow::server
