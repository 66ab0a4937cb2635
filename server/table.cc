#include "server/table.h"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
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

// The clones are picked by an ifunc resolver, which runs while the dynamic loader relocates
// the binary, before a sanitizer's runtime is up (TSan crashes there): sanitized builds
// keep the baseline loop only.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SPARROW_CLONED_FOR_AVX2
#else
#define SPARROW_CLONED_FOR_AVX2 __attribute__((target_clones("avx2", "default")))
#endif

// One part's share of a push: `count` sorted keys and their gradients (`width` each).
struct PartPush {
  SparseTable* rows;
  SparseTable* counts;  // null unless keys are admitted on their min_count-th push
  float min_count;
  const uint64_t* keys;
  const float* grads;
  size_t count;
  uint32_t width;
};

// Applies a slice through `rule`. Cloned for AVX2: the optimizers' updates are bound by
// their square roots and divisions, and a core that has AVX2 does eight of each per
// instruction instead of four. Element-wise square roots and divisions round the same at
// any vector width, and no FMA is enabled, so both clones give the same bits.
template <typename Rule>
SPARROW_CLONED_FOR_AVX2 void ApplyPush(const Rule& rule, const PartPush& s) {
  SparseTable& rows = *s.rows;
  // Grow at most once per request, sized for all its new keys (SparseTable::ReserveFor);
  // checked at the request's first new key, and only when inserting it would grow, so
  // pushes of stored keys pay nothing even when the table sits at its growth threshold.
  bool reserved = false;
  for (size_t i = 0; i < s.count; ++i) {
    const uint64_t key = s.keys[i];
    if (i + kPrefetchDistance < s.count) rows.Prefetch(s.keys[i + kPrefetchDistance]);
    float* row = rows.FindMutable(key);
    if (row == nullptr) {
      if (s.counts != nullptr) {
        bool fresh;
        float* c = s.counts->FindOrInsert(key, &fresh);
        c[0] = fresh ? 1.0f : c[0] + 1.0f;
        if (c[0] < s.min_count) continue;  // not admitted yet: the gradient is dropped
      }
      if (!reserved && rows.Full()) {
        rows.ReserveFor(s.keys + i, s.count - i);
        reserved = true;
      }
      bool inserted;
      row = rows.FindOrInsert(key, &inserted);
      rule.Init(key, row);
    }
    rule.Update(row, s.grads + i * s.width);
  }
}

}  // namespace

Result<std::unique_ptr<Table>> Table::Create(const wire::TableSpec& spec, size_t expected_keys,
                                             uint64_t key_begin, uint64_t key_end, int parts,
                                             tbb::task_arena* arena) {
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
  if (parts < 1 || parts > 256) return InvalidArgument(where + ": parts must be in [1, 256]");
  std::unique_ptr<Table> t(new Table(spec, RuleParams::FromSpec(spec)));
  t->arena_ = arena;
  const unsigned __int128 span = static_cast<unsigned __int128>(key_end - key_begin) + 1;
  const uint32_t floats = StateFloats(spec.optimizer(), t->params_.width);
  for (int p = 0; p < parts; ++p) {
    Part part;
    part.begin = key_begin + static_cast<uint64_t>(span * p / parts);
    part.end = key_begin + static_cast<uint64_t>(span * (p + 1) / parts - 1);
    part.rows = std::make_unique<SparseTable>(floats, expected_keys / parts, part.begin, part.end);
    if (spec.min_count() > 1) {
      part.counts = std::make_unique<SparseTable>(1, 0, part.begin, part.end);
    }
    t->parts_.push_back(std::move(part));
  }
  return t;
}

Table::Table(const wire::TableSpec& spec, RuleParams params)
    : spec_(spec), params_(params), rule_(MakeRule(spec.optimizer(), params)) {}

template <typename Fn>
void Table::ForEachSlice(const uint64_t* keys, size_t n, Fn fn) const {
  // Below this many keys a request runs inline: a handoff costs more than the work.
  constexpr size_t kParallelMin = 16384;
  std::vector<size_t> begin(parts_.size() + 1, 0);
  for (size_t p = 0; p < parts_.size(); ++p) {
    begin[p + 1] = p + 1 == parts_.size()
                       ? n
                       : std::upper_bound(keys + begin[p], keys + n, parts_[p].end) - keys;
  }
  auto run = [&](size_t p) {
    if (begin[p + 1] > begin[p]) fn(p, begin[p], begin[p + 1] - begin[p]);
  };
  if (arena_ == nullptr || parts_.size() == 1 || n < kParallelMin) {
    for (size_t p = 0; p < parts_.size(); ++p) run(p);
    return;
  }
  arena_->execute([&] { tbb::parallel_for(size_t{0}, parts_.size(), run); });
}

void Table::Push(const uint64_t* keys, const float* grads, size_t n) {
  const uint32_t w = width();
  ForEachSlice(keys, n, [&](size_t p, size_t first, size_t count) {
    PartPush slice{parts_[p].rows.get(),
                   parts_[p].counts.get(),
                   static_cast<float>(spec_.min_count()),
                   keys + first,
                   grads + first * w,
                   count,
                   w};
    std::visit([&](const auto& rule) { ApplyPush(rule, slice); }, rule_);
  });
}

void Table::Reserve(size_t expected_keys) {
  for (auto& part : parts_) part.rows->Reserve(expected_keys / parts_.size());
}

void Table::Pull(const uint64_t* keys, size_t n, float* out) const {
  const uint32_t w = width();
  ForEachSlice(keys, n, [&](size_t p, size_t first, size_t count) {
    const SparseTable& rows = *parts_[p].rows;
    const uint64_t* k = keys + first;
    float* o = out + first * w;
    std::vector<float> fresh;  // a never-pushed key's initial row: computed, not stored
    std::visit(
        [&](const auto& rule) {
          for (size_t i = 0; i < count; ++i) {
            if (i + kPrefetchDistance < count) rows.Prefetch(k[i + kPrefetchDistance]);
            const float* row = rows.Find(k[i]);
            if (row != nullptr) {
              rule.Weights(row, o + i * w);
            } else if (parts_[p].counts != nullptr) {
              std::fill(o + i * w, o + (i + 1) * w, 0.0f);  // not admitted: no row yet
            } else {
              fresh.resize(rows.row_floats());
              rule.Init(k[i], fresh.data());
              rule.Weights(fresh.data(), o + i * w);
            }
          }
        },
        rule_);
  });
}

const Table::Part& Table::PartOf(uint64_t key) const {
  for (const Part& p : parts_) {
    if (key <= p.end) return p;
  }
  return parts_.back();
}

namespace {

std::vector<uint64_t> SortedKeys(const SparseTable& t) {
  std::vector<uint64_t> keys;
  keys.reserve(t.size());
  t.ForEach([&](uint64_t k, const float*) { keys.push_back(k); });
  // Placement follows key order, except where a probe wrapped around the arena's end or
  // the table switched to mixed placement.
  if (!std::is_sorted(keys.begin(), keys.end())) std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace

std::vector<uint64_t> Table::Keys() const {
  std::vector<uint64_t> keys;
  for (const Part& p : parts_) {
    std::vector<uint64_t> k = SortedKeys(*p.rows);
    keys.insert(keys.end(), k.begin(), k.end());
  }
  return keys;
}

const float* Table::Row(uint64_t key) const {
  return PartOf(key).rows->Find(key);
}

std::vector<uint64_t> Table::PendingKeys() const {
  std::vector<uint64_t> keys;
  for (const Part& p : parts_) {
    if (p.counts == nullptr) continue;
    std::vector<uint64_t> k = SortedKeys(*p.counts);
    keys.insert(keys.end(), k.begin(), k.end());
  }
  return keys;
}

float Table::PendingCount(uint64_t key) const {
  const Part& p = PartOf(key);
  const float* c = p.counts ? p.counts->Find(key) : nullptr;
  return c ? c[0] : 0.0f;
}

void Table::RestoreRow(uint64_t key, const float* row) {
  SparseTable& rows = *PartOf(key).rows;
  bool inserted;
  float* r = rows.FindOrInsert(key, &inserted);
  std::copy(row, row + rows.row_floats(), r);
}

void Table::RestoreCount(uint64_t key, float count) {
  const Part& p = PartOf(key);
  if (p.counts == nullptr) return;  // the spec admits at once: nothing is pending
  bool inserted;
  p.counts->FindOrInsert(key, &inserted)[0] = count;
}

wire::TableStats Table::Stats() const {
  wire::TableStats s;
  s.set_table(spec_.id());
  size_t keys = 0, bytes = sizeof(*this), capacity = 0;
  for (const auto& p : parts_) {
    keys += p.rows->size();
    bytes += p.rows->bytes() + sizeof(p) + (p.counts ? p.counts->bytes() : 0);
    capacity += p.rows->capacity();
  }
  s.set_keys(keys);
  s.set_bytes(bytes);
  s.set_capacity(capacity);
  return s;
}

}  // namespace sparrow::server
