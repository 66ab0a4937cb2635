// Table: one named table of a model on one server — its spec, its optimizer, its rows.
//
// Push applies gradients through the optimizer (inserting and initialising new keys; with
// spec.min_count, a key is inserted on its min_count-th push and pulls as zeros before);
// Pull returns weights only (never optimizer state), computing a never-pushed key's initial
// weights without storing it, so reading does not grow the table.
//
// Parts. The table's key range is cut into `parts` equal sub-ranges, each with its own
// arena. A large request is split at the part boundaries (its keys are sorted, so each
// part gets one contiguous slice) and the slices run in parallel on the given oneTBB
// arena; parts share nothing, so nothing is locked. Small requests run inline: handing
// them to another thread would cost more than the work.
//
// Thread safety: one caller at a time (the server's request thread).
#pragma once

#include <oneapi/tbb/task_arena.h>

#include <memory>
#include <variant>
#include <vector>

#include "core/status.h"
#include "proto/wire.pb.h"
#include "server/optimizer.h"
#include "server/sparse_table.h"

namespace sparrow::server {

class Table {
 public:
  // Validates the spec (width, optimizer, hyper-parameters). `expected_keys` sizes the
  // arena for this server's share (0: grow on demand); keys are expected in
  // [key_begin, key_end] (this server's range).
  // `parts` >= 1 sub-ranges; `arena`, if not null, runs them in parallel and must outlive
  // the table.
  static Result<std::unique_ptr<Table>> Create(const wire::TableSpec& spec, size_t expected_keys,
                                               uint64_t key_begin = 0, uint64_t key_end = ~0ull,
                                               int parts = 1, tbb::task_arena* arena = nullptr);

  // Makes room for `expected_keys` keys of this server's share (never shrinks): for a
  // capacity hint that arrives after creation. Server thread only, like Push.
  void Reserve(size_t expected_keys);

  const wire::TableSpec& spec() const { return spec_; }
  uint32_t width() const { return params_.width; }

  // keys: sorted ascending. grads: n x width floats, row-major.
  void Push(const uint64_t* keys, const float* grads, size_t n);
  // keys: sorted ascending. out: n x width floats.
  void Pull(const uint64_t* keys, size_t n, float* out) const;

  wire::TableStats Stats() const;

  // Checkpoints (checkpoint/checkpoint.h): the table's whole state, row by row.
  // Floats a stored row holds: the weights, then the optimizer's state.
  uint32_t row_floats() const { return parts_.front().rows->row_floats(); }
  // Every stored key, ascending.
  std::vector<uint64_t> Keys() const;
  // The stored row of `key` (row_floats() floats), or null. Valid until the next push.
  const float* Row(uint64_t key) const;
  // Keys counted towards admission (spec.min_count > 1) but not given a row yet,
  // ascending, and the count of one of them (0 if none).
  std::vector<uint64_t> PendingKeys() const;
  float PendingCount(uint64_t key) const;
  // Puts back a stored row or a pending count as Row / PendingCount gave it, replacing
  // what the table holds for `key`. Server thread only, like Push.
  void RestoreRow(uint64_t key, const float* row);
  void RestoreCount(uint64_t key, float count);

  // Calls f(key, const float* weights) for every stored key (weights: width floats), part
  // by part in key-range order.
  template <typename F>
  void ForEachWeights(F f) const {
    std::vector<float> w(width());
    std::visit(
        [&](const auto& rule) {
          for (const auto& part : parts_) {
            part.rows->ForEach([&](uint64_t k, const float* row) {
              rule.Weights(row, w.data());
              f(k, w.data());
            });
          }
        },
        rule_);
  }

 private:
  struct Part {
    uint64_t begin, end;  // inclusive key range
    std::unique_ptr<SparseTable> rows;
    std::unique_ptr<SparseTable> counts;  // pushes of keys not yet admitted (min_count)
  };
  Table(const wire::TableSpec& spec, RuleParams params);
  // The part whose range holds `key` (the last one for a key past every range).
  const Part& PartOf(uint64_t key) const;
  // Calls fn(part, first, count) for each part's slice of the sorted `keys`, in parallel
  // when the request is large and an arena is set.
  template <typename Fn>
  void ForEachSlice(const uint64_t* keys, size_t n, Fn fn) const;

  wire::TableSpec spec_;
  RuleParams params_;
  std::variant<SgdRule, AdaGradRule, FtrlRule, AdamRule> rule_;
  std::vector<Part> parts_;
  tbb::task_arena* arena_ = nullptr;
};

}  // namespace sparrow::server
