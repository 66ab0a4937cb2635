#include "data/synth.h"

#include <google/protobuf/text_format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/hash.h"
#include "data/feature_spec.h"

namespace sparrow::data {
namespace {

constexpr int kFactors = 4;

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
double Uniform(uint64_t* s) {
  return (SplitMix(s) >> 11) * 0x1.0p-53;
}  // [0, 1)
double Normal(uint64_t* s) {
  double u1 = Uniform(s), u2 = Uniform(s);
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(6.283185307179586 * u2);
}
uint32_t Poisson(uint64_t* s, double mean) {  // inversion; means here are small
  double p = std::exp(-mean), cdf = p, u = Uniform(s);
  uint32_t k = 0;
  while (u > cdf && k < 1000) {
    ++k;
    p *= mean / k;
    cdf += p;
  }
  return k;
}
// Skewed level choice: low levels are common, as real categories are.
uint32_t Level(uint64_t* s, uint32_t levels) {
  double u = Uniform(s);
  return std::min(levels - 1, static_cast<uint32_t>(levels * u * u));
}
double Sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

std::string LevelName(uint32_t level) {
  return "v" + std::to_string(level);
}

}  // namespace

// Fixed arrays: drawing a row allocates nothing (a scale run draws billions).
struct SynthModel::Row {
  std::array<float, kMaxColumns> numeric;   // per column (unused for categorical)
  std::array<uint32_t, kMaxColumns> level;  // per column; numeric: 1 = missing
  double label = 0;
  float exposure = 1;
};

Result<std::unique_ptr<SynthModel>> SynthModel::Create(const std::string& kind, uint64_t seed) {
  std::unique_ptr<SynthModel> m(new SynthModel());
  m->kind_ = kind;
  m->seed_ = seed;
  auto numeric = [&](const std::string& name) { m->columns_.push_back({name, true, 0, 0, 0}); };
  auto categorical = [&](const std::string& name, uint32_t levels) {
    m->columns_.push_back({name, false, levels, 0, 0});
  };
  if (kind == "credit") {
    m->label_ = "default";
    numeric("income");  // 5% missing
    numeric("age");
    numeric("utilization");
    numeric("late_payments");
    categorical("city", 50);
    categorical("merchant", 200);
    categorical("channel", 5);
    categorical("product", 10);
    m->bias_ = -2.2;
  } else if (kind == "ctr") {
    m->label_ = "click";
    m->ctr_ = true;
    const uint32_t levels[] = {1000, 500, 100, 50, 20, 10, 5, 3};
    for (int f = 0; f < 8; ++f) categorical("f" + std::to_string(f), levels[f]);
    m->bias_ = -1.5;
  } else if (kind == "claims") {
    m->label_ = "claims";
    m->claims_ = true;
    numeric("driver_age");
    categorical("region", 20);
    categorical("vehicle", 10);
    categorical("area", 6);
    m->bias_ = std::log(0.1);
  } else {
    return InvalidArgument("synth: unknown kind '" + kind + "' (credit, ctr or claims)");
  }
  // Truth drawn from the seed, column by column.
  uint64_t s = seed * 0x2545f4914f6cdd1dULL + 0x7f4a7c15;
  const double scale = m->claims_ ? 0.3 : 0.5;
  for (size_t c = 0; c < m->columns_.size(); ++c) {
    Column& col = m->columns_[c];
    col.seed = ColumnSeed(0, col.name);
    col.field = static_cast<uint32_t>(c);
    std::vector<double> w(col.numeric ? 2 : col.levels);
    for (double& x : w) x = scale * Normal(&s);
    m->weights_.push_back(std::move(w));
    if (m->ctr_) {
      std::vector<std::vector<double>> v(col.levels, std::vector<double>(kFactors));
      for (auto& row : v)
        for (double& x : row) x = 0.3 * Normal(&s);
      m->factors_.push_back(std::move(v));
    }
  }
  // The spec that reads the CSV: numeric columns first, then categorical, as written, so
  // that resolved fields equal the column order above.
  m->spec_.set_format(CSV);
  ColumnSpec* cs = m->spec_.mutable_columns();
  cs->set_label(m->label_);
  if (m->claims_) cs->set_exposure("exposure");
  for (const Column& c : m->columns_) {
    if (c.numeric) cs->add_numeric()->set_name(c.name);
  }
  for (const Column& c : m->columns_) {
    if (!c.numeric) cs->add_categorical()->set_name(c.name);
  }
  // Resolved by the same code that resolves the file's spec, so both agree exactly.
  std::vector<std::string> header;
  {
    std::string h = m->Header();
    size_t start = 0;
    for (size_t i = 0; i <= h.size(); ++i) {
      if (i == h.size() || h[i] == ',') {
        header.push_back(h.substr(start, i - start));
        start = i + 1;
      }
    }
  }
  SPARROW_ASSIGN_OR_RETURN(m->features_, ResolveFeatureSpec(m->spec_, &header));
  return m;
}

double SynthModel::TrueWeight(size_t col, uint32_t level) const {
  return weights_[col][level];
}

void SynthModel::Draw(uint64_t index, Row* row) const {
  uint64_t s = XXH3_64bits_withSeed(&index, sizeof(index), seed_);
  row->numeric.fill(0.0f);
  row->level.fill(0);
  double margin = bias_;
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Column& col = columns_[c];
    if (col.numeric) {
      double u = Uniform(&s);
      if (c == 0 && kind_ == "credit" && u < 0.05) {
        row->level[c] = 1;  // missing: its own weight
        margin += weights_[c][1];
        continue;
      }
      float x = static_cast<float>(Normal(&s));
      row->numeric[c] = x;
      margin += weights_[c][0] * x;
    } else {
      uint32_t l = Level(&s, col.levels);
      row->level[c] = l;
      margin += weights_[c][l];
    }
  }
  if (ctr_) {
    for (size_t i = 0; i < columns_.size(); ++i)
      for (size_t j = i + 1; j < columns_.size(); ++j) {
        const auto& a = factors_[i][row->level[i]];
        const auto& b = factors_[j][row->level[j]];
        for (int k = 0; k < kFactors; ++k) margin += a[k] * b[k];
      }
  }
  if (claims_) {
    row->exposure = static_cast<float>(0.05 + 0.95 * Uniform(&s));
    row->label = Poisson(&s, row->exposure * std::exp(margin));
  } else {
    row->label = Uniform(&s) < Sigmoid(margin) ? 1 : 0;
  }
}

std::string SynthModel::Header() const {
  std::string h = label_;
  if (claims_) h += ",exposure";
  for (const Column& c : columns_) h += "," + c.name;
  return h;
}

void SynthModel::FormatRow(uint64_t index, std::string* out) const {
  Row row;
  Draw(index, &row);
  char buf[32];
  out->append(std::to_string(static_cast<int>(row.label)));
  if (claims_) {
    // Shortest text that reads back as the same double (the reader takes ln in double),
    // so file and stream agree to the bit.
    out->push_back(',');
    out->append(buf, std::to_chars(buf, buf + sizeof(buf), static_cast<double>(row.exposure)).ptr);
  }
  for (size_t c = 0; c < columns_.size(); ++c) {
    out->push_back(',');
    if (columns_[c].numeric) {
      if (row.level[c] == 1) {
        out->append("NA");
      } else {
        out->append(buf, std::to_chars(buf, buf + sizeof(buf), row.numeric[c]).ptr);
      }
    } else {
      out->append(LevelName(row.level[c]));
    }
  }
  out->push_back('\n');
}

void SynthModel::AppendRow(uint64_t index, Batch* b) const {
  Row row;
  Draw(index, &row);
  b->has_fields = true;
  char buf[16];
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Column& col = columns_[c];
    if (col.numeric) {
      bool missing = row.level[c] == 1;
      b->keys.push_back(missing ? FeatureKey(col.seed, "", 0) : FeatureKey(col.seed, "#", 1));
      b->values.push_back(missing ? 1.0f : row.numeric[c]);
    } else {
      buf[0] = 'v';
      size_t len = std::to_chars(buf + 1, buf + sizeof(buf), row.level[c]).ptr - buf;
      b->keys.push_back(FeatureKey(col.seed, buf, len));
      b->values.push_back(1.0f);
    }
    b->fields.push_back(col.field);
  }
  b->labels.push_back(static_cast<float>(row.label));
  b->weights.push_back(1.0f);
  b->offsets.push_back(claims_ ? static_cast<float>(std::log(static_cast<double>(row.exposure)))
                               : 0.0f);
  b->row_offsets.push_back(b->keys.size());
}

SynthTruth SynthModel::Truth(uint64_t rows, const std::string& path) const {
  SynthTruth t;
  t.set_kind(kind_);
  t.set_seed(seed_);
  t.set_rows(rows);
  t.set_bias(bias_);
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Column& col = columns_[c];
    auto add = [&](const std::string& value, double w) {
      SynthTruth::Weight* x = t.add_weights();
      x->set_column(col.name);
      x->set_value(value);
      x->set_key(FeatureKey(col.seed, value));
      x->set_weight(w);
      return x;
    };
    if (col.numeric) {
      add("#", weights_[c][0]);
      if (kind_ == "credit" && c == 0) add("", weights_[c][1]);
    } else {
      for (uint32_t l = 0; l < col.levels; ++l) {
        SynthTruth::Weight* x = add(LevelName(l), weights_[c][l]);
        if (ctr_) {
          for (double f : factors_[c][l]) x->add_factor(f);
        }
      }
    }
  }
  *t.mutable_spec() = spec_;
  if (!path.empty()) t.mutable_spec()->add_train(path);
  return t;
}

SynthStream::SynthStream(const SynthModel& model, uint64_t rows, uint32_t shard,
                         uint32_t num_shards, size_t batch_rows)
    : model_(model),
      next_(shard),
      rows_(rows),
      step_(num_shards == 0 ? 1 : num_shards),
      batch_rows_(batch_rows == 0 ? 1 : batch_rows) {}

bool SynthStream::Next(Batch* b) {
  b->Clear();
  b->has_fields = true;
  for (size_t n = 0; n < batch_rows_ && next_ < rows_; ++n, next_ += step_) {
    model_.AppendRow(next_, b);
  }
  return b->rows() > 0;
}

namespace {

Status WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return NotFound(path + ": cannot create");
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok &= std::fclose(f) == 0;
  return ok ? Status::Ok() : DataLoss(path + ": write failed");
}

}  // namespace

Status WriteSynth(const SynthModel& model, uint64_t rows, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return NotFound(path + ": cannot create");
  std::string buf = model.Header() + "\n";
  bool ok = true;
  for (uint64_t i = 0; i < rows && ok; ++i) {
    model.FormatRow(i, &buf);
    if (buf.size() >= (1 << 20)) {
      ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
      buf.clear();
    }
  }
  ok = ok && std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
  ok &= std::fclose(f) == 0;
  if (!ok) return DataLoss(path + ": write failed");
  std::string text;
  google::protobuf::TextFormat::PrintToString(model.Truth(rows, path), &text);
  SPARROW_RETURN_IF_ERROR(WriteText(path + ".truth", text));
  DataSpec spec = model.spec();
  spec.add_train(path);
  google::protobuf::TextFormat::PrintToString(spec, &text);
  return WriteText(path + ".spec", text);
}

}  // namespace sparrow::data
