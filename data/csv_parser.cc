#include "data/csv_parser.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "core/hash.h"
#include "data/number_parse.h"

namespace sparrow::data {

// Per-Parse() working memory, allocated once per chunk and reused for every row.
struct CsvParser::Scratch {
  std::vector<std::string_view> fields;
  std::string unquoted;  // backing store of fields that had quotes; reserved per line
  std::vector<std::string_view> tokens;  // per cross-referenced column: its token
  std::vector<std::array<char, 32>> token_buf;
  std::string cross;  // the joined cross token
};

namespace {

constexpr char kCrossSeparator = '\x1f';

std::string Quote(std::string_view v) {
  constexpr size_t kMax = 40;
  if (v.size() > kMax) return "'" + std::string(v.substr(0, kMax)) + "...'";
  return "'" + std::string(v) + "'";
}

// The whole of v as a finite double.
bool ParseWhole(std::string_view v, double* out) {
  const char* e = v.data() + v.size();
  return ParseReal(v.data(), e, out) == e;
}

uint64_t TestMask(const Split& split) {
  uint64_t mask = 0;
  if (split.test_residues_size() == 0) return 1;  // default: residue 0 is test
  for (uint64_t r : split.test_residues()) {
    if (r < 64) mask |= uint64_t{1} << r;
  }
  return mask;
}

}  // namespace

Result<std::vector<std::string>> CsvParser::SplitHeader(std::string_view line, char delimiter) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string> names;
  std::string cur;
  size_t i = 0;
  for (;;) {
    cur.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      for (;;) {
        if (i >= line.size()) return InvalidArgument("header: unterminated quote");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            cur += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        cur += line[i++];
      }
      if (i < line.size() && line[i] != delimiter) return InvalidArgument("header: bad quoting");
    } else {
      while (i < line.size() && line[i] != delimiter) cur += line[i++];
    }
    names.push_back(cur);
    if (i >= line.size()) break;
    ++i;  // delimiter
  }
  return names;
}

Result<std::unique_ptr<CsvParser>> CsvParser::Create(const FeatureSpec& spec,
                                                     const std::vector<std::string>& names,
                                                     const Split& split, int part,
                                                     bool learning_bins) {
  const ColumnSpec& cs = spec.columns();
  std::unique_ptr<CsvParser> p(new CsvParser());
  if (cs.delimiter().size() != 1) {
    return InvalidArgument("columns.delimiter must be one character, not '" + cs.delimiter() + "'");
  }
  p->delim_ = cs.delimiter()[0];
  p->ncols_ = names.size();
  p->names_ = names;
  p->missing_.assign(cs.missing().begin(), cs.missing().end());
  if (cs.missing_size() == 0) p->missing_.push_back("NA");
  p->binarize_ = spec.has_binarize_label_above();
  p->threshold_ = spec.binarize_label_above();

  std::unordered_map<std::string, int> index;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!index.emplace(names[i], static_cast<int>(i)).second) {
      return InvalidArgument("column '" + names[i] + "' appears twice in the header");
    }
  }
  auto find = [&](const std::string& name, const char* what) -> Result<int> {
    auto it = index.find(name);
    if (it == index.end())
      return InvalidArgument(std::string(what) + " column '" + name + "' is not in the header");
    return it->second;
  };
  if (cs.has_label()) {
    SPARROW_ASSIGN_OR_RETURN(p->label_, find(cs.label(), "columns.label"));
  }
  if (cs.has_weight()) {
    SPARROW_ASSIGN_OR_RETURN(p->weight_, find(cs.weight(), "columns.weight"));
  }
  if (cs.has_offset()) {
    SPARROW_ASSIGN_OR_RETURN(p->offset_, find(cs.offset(), "columns.offset"));
  }
  if (cs.has_exposure()) {
    SPARROW_ASSIGN_OR_RETURN(p->exposure_, find(cs.exposure(), "columns.exposure"));
  }
  const uint64_t seed = spec.hash_seed();
  std::vector<int> numeric_of(names.size(), -1);
  for (const NumericColumn& n : cs.numeric()) {
    Numeric num;
    SPARROW_ASSIGN_OR_RETURN(num.col, find(n.name(), "columns.numeric"));
    num.transform = n.transform();
    num.boundaries.assign(n.boundaries().begin(), n.boundaries().end());
    if (!std::is_sorted(num.boundaries.begin(), num.boundaries.end())) {
      return InvalidArgument("columns.numeric '" + n.name() + "': boundaries must ascend");
    }
    if (num.transform == NumericColumn::BUCKETIZE && num.boundaries.empty()) {
      if (!learning_bins) {
        return InvalidArgument("columns.numeric '" + n.name() +
                               "': BUCKETIZE without boundaries (the spec is not resolved)");
      }
      p->learned_.push_back(static_cast<int>(p->numeric_.size()));
      p->learned_names_.push_back(n.name());
    }
    num.seed = ColumnSeed(seed, n.name());
    num.field = n.field();
    numeric_of[num.col] = static_cast<int>(p->numeric_.size());
    p->numeric_.push_back(std::move(num));
  }
  for (const CategoricalColumn& c : cs.categorical()) {
    Categorical cat;
    SPARROW_ASSIGN_OR_RETURN(cat.col, find(c.name(), "columns.categorical"));
    cat.seed = ColumnSeed(seed, c.name());
    cat.field = c.field();
    p->categorical_.push_back(cat);
  }
  p->token_slot_.assign(names.size(), -1);
  p->is_numeric_.assign(names.size(), 0);
  for (const Numeric& n : p->numeric_) p->is_numeric_[n.col] = 1;
  int slots = 0;
  for (const Cross& c : cs.cross()) {
    Crossing x;
    std::string joined;
    for (const std::string& name : c.columns()) {
      SPARROW_ASSIGN_OR_RETURN(int col, find(name, "columns.cross"));
      int ni = numeric_of[col];
      if (ni >= 0 && (p->numeric_[ni].transform == NumericColumn::RAW ||
                      p->numeric_[ni].transform == NumericColumn::LOG)) {
        return InvalidArgument("columns.cross: column '" + name +
                               "' is a RAW/LOG numeric; cross categorical or bucketized columns");
      }
      if (p->token_slot_[col] < 0) p->token_slot_[col] = slots++;
      x.cols.push_back(col);
      joined += joined.empty() ? name : "^" + name;
    }
    if (x.cols.size() < 2) return InvalidArgument("columns.cross needs two or more columns");
    x.seed = ColumnSeed(seed, c.has_name() ? c.name() : joined);
    x.field = c.field();
    p->crosses_.push_back(std::move(x));
  }
  if (split.has_column() && part != 0) {
    SPARROW_ASSIGN_OR_RETURN(p->split_col_, find(split.column(), "split"));
    if (split.modulus() == 0 || split.modulus() > 64) {
      return InvalidArgument("split.modulus must be in 1..64");
    }
    p->split_modulus_ = split.modulus();
    p->split_test_mask_ = TestMask(split);
    p->part_ = part;
  }
  return p;
}

bool CsvParser::IsMissing(std::string_view v) const {
  if (v.empty()) return true;
  for (const std::string& m : missing_) {
    if (v == m) return true;
  }
  return false;
}

const char* CsvParser::Tokenize(const char* p, const char* end, Scratch* s) const {
  s->fields.clear();
  s->unquoted.clear();
  if (s->unquoted.capacity() < static_cast<size_t>(end - p)) s->unquoted.reserve(end - p);
  for (;;) {
    if (p < end && *p == '"') {
      // Quoted: copy out with "" -> ", into the reserved buffer (never reallocates).
      const size_t start = s->unquoted.size();
      ++p;
      for (;;) {
        const char* q = static_cast<const char*>(std::memchr(p, '"', end - p));
        if (q == nullptr) return "unterminated quote (line breaks inside quotes are not supported)";
        s->unquoted.append(p, q);
        p = q + 1;
        if (p < end && *p == '"') {
          s->unquoted.push_back('"');
          ++p;
          continue;
        }
        break;
      }
      if (p < end && *p != delim_) return "bad quoting: text after a closing quote";
      s->fields.emplace_back(s->unquoted.data() + start, s->unquoted.size() - start);
    } else {
      // Fields are short: a plain loop beats a memchr call per field.
      const char* q = p;
      while (q < end && *q != delim_) ++q;
      s->fields.emplace_back(p, q - p);
      p = q;
    }
    if (p >= end) break;
    ++p;  // the delimiter
  }
  return nullptr;
}

bool CsvParser::SplitKeeps(std::string_view v) const {
  uint64_t key;
  const char* e = v.data() + v.size();
  if (v.empty() || ParseIndex(v.data(), e, &key) != e) key = XXH3_64bits(v.data(), v.size());
  bool test = (split_test_mask_ >> (key % split_modulus_)) & 1;
  return test == (part_ == 2);
}

void CsvParser::ScratchDeleter::operator()(Scratch* s) const {
  delete s;
}

std::unique_ptr<CsvParser::Scratch, CsvParser::ScratchDeleter> CsvParser::NewScratch() const {
  std::unique_ptr<Scratch, ScratchDeleter> s(new Scratch());
  int slots = 0;
  for (int t : token_slot_) slots = std::max(slots, t + 1);
  s->tokens.resize(slots);
  s->token_buf.resize(slots);
  return s;
}

std::string CsvParser::ParseFields(std::span<const std::string_view> fields, Scratch* scratch,
                                   Batch* out) const {
  if (fields.size() != ncols_) {
    return "expected " + std::to_string(ncols_) + " fields, got " + std::to_string(fields.size());
  }
  out->has_fields = true;
  return ParseRow(fields, scratch, out);
}

std::string CsvParser::ParseRow(std::span<const std::string_view> f, Scratch* s, Batch* b) const {
  float label = 0, weight = 1, offset = 0;
  if (label_ >= 0) {
    std::string_view v = f[label_];
    double x;
    if (IsMissing(v)) return "label '" + names_[label_] + "' is missing";
    if (!ParseWhole(v, &x)) return "label '" + names_[label_] + "' not parseable: " + Quote(v);
    label = binarize_ ? (x > threshold_ ? 1.0f : 0.0f) : static_cast<float>(x);
  }
  if (weight_ >= 0) {
    double x;
    std::string_view v = f[weight_];
    if (!ParseWhole(v, &x) || x < 0)
      return "weight '" + names_[weight_] + "' must be a number >= 0, not " + Quote(v);
    weight = static_cast<float>(x);
  }
  if (offset_ >= 0) {
    double x;
    std::string_view v = f[offset_];
    if (!ParseWhole(v, &x)) return "offset '" + names_[offset_] + "' not a number: " + Quote(v);
    offset = static_cast<float>(x);
  }
  if (exposure_ >= 0) {
    double x;
    std::string_view v = f[exposure_];
    if (!ParseWhole(v, &x) || !(x > 0))
      return "exposure '" + names_[exposure_] + "' must be a number > 0, not " + Quote(v);
    offset += static_cast<float>(std::log(x));
  }
  const size_t row_start = b->keys.size();
  auto emit = [b](uint64_t key, float value, uint32_t field) {
    b->keys.push_back(key);
    b->values.push_back(value);
    b->fields.push_back(field);
  };
  auto set_token = [&](int col, std::string_view t) {
    int slot = token_slot_[col];
    if (slot < 0) return;
    auto& buf = s->token_buf[slot];
    size_t n = std::min(t.size(), buf.size());
    if (n > 0) std::memcpy(buf.data(), t.data(), n);
    s->tokens[slot] = std::string_view(buf.data(), n);
  };
  for (const Numeric& n : numeric_) {
    std::string_view v = f[n.col];
    if (IsMissing(v)) {
      emit(FeatureKey(n.seed, "", 0), 1.0f, n.field);
      set_token(n.col, "");
      continue;
    }
    double x;
    if (!ParseWhole(v, &x)) {
      b->keys.resize(row_start);
      b->values.resize(row_start);
      b->fields.resize(row_start);
      return "column '" + names_[n.col] + "': not a number: " + Quote(v);
    }
    char tok[32];
    size_t len = 0;
    switch (n.transform) {
      case NumericColumn::RAW:
        emit(FeatureKey(n.seed, "#", 1), static_cast<float>(x), n.field);
        break;
      case NumericColumn::LOG:
        emit(FeatureKey(n.seed, "#", 1),
             static_cast<float>(std::copysign(std::log1p(std::fabs(x)), x)), n.field);
        break;
      case NumericColumn::BUCKETIZE: {
        size_t bucket =
            std::upper_bound(n.boundaries.begin(), n.boundaries.end(), x) - n.boundaries.begin();
        tok[0] = 'b';
        len = std::to_chars(tok + 1, tok + sizeof(tok), bucket).ptr - tok;
        emit(FeatureKey(n.seed, tok, len), 1.0f, n.field);
        break;
      }
      case NumericColumn::LOG_SQUARE_CATEGORY: {
        char* q = tok;
        double c = x;
        if (x > 2) {
          *q++ = 'L';
          c = std::floor(std::log(x) * std::log(x));
        }
        c = std::trunc(c);
        if (std::fabs(c) > 9e18) c = std::copysign(9e18, c);
        len = std::to_chars(q, tok + sizeof(tok), static_cast<int64_t>(c)).ptr - tok;
        emit(FeatureKey(n.seed, tok, len), 1.0f, n.field);
        break;
      }
    }
    set_token(n.col, std::string_view(tok, len));
  }
  for (const Categorical& c : categorical_) {
    std::string_view v = f[c.col];
    if (IsMissing(v)) v = std::string_view();
    emit(FeatureKey(c.seed, v), 1.0f, c.field);
  }
  if (!crosses_.empty()) {
    // Columns crossed but not transformed above contribute their text.
    for (size_t col = 0; col < token_slot_.size(); ++col) {
      int slot = token_slot_[col];
      if (slot < 0) continue;
      if (!is_numeric_[col]) s->tokens[slot] = IsMissing(f[col]) ? std::string_view() : f[col];
    }
    for (const Crossing& x : crosses_) {
      s->cross.clear();
      for (size_t i = 0; i < x.cols.size(); ++i) {
        if (i > 0) s->cross.push_back(kCrossSeparator);
        s->cross.append(s->tokens[token_slot_[x.cols[i]]]);
      }
      emit(FeatureKey(x.seed, s->cross), 1.0f, x.field);
    }
  }
  b->labels.push_back(label);
  b->weights.push_back(weight);
  b->offsets.push_back(offset);
  b->row_offsets.push_back(b->keys.size());
  return std::string();
}

void CsvParser::Parse(const char* text, size_t size, const LineFilter& filter,
                      ParseOutput* out) const {
  Batch* b = &out->batch;
  b->has_fields = true;
  Scratch s;
  s.fields.reserve(ncols_ + 1);
  int slots = 0;
  for (int t : token_slot_) slots = std::max(slots, t + 1);
  s.tokens.resize(slots);
  s.token_buf.resize(slots);
  ForEachLine(text, size, filter,
              [&](uint64_t i, uint64_t line, const char* begin, const char* end) {
                if (end == begin || !filter.Keep(line)) {
                  ++out->skipped;
                  return;
                }
                if (const char* reason = Tokenize(begin, end, &s)) {
                  out->bad.push_back({i, reason});
                  return;
                }
                if (s.fields.size() != ncols_) {
                  out->bad.push_back({i, "expected " + std::to_string(ncols_) + " fields, got " +
                                             std::to_string(s.fields.size())});
                  return;
                }
                if (split_col_ >= 0 && !SplitKeeps(s.fields[split_col_])) {
                  ++out->skipped;
                  return;
                }
                std::string reason = ParseRow(s.fields, &s, b);
                if (!reason.empty()) out->bad.push_back({i, std::move(reason)});
              });
}

uint64_t CsvParser::CollectNumeric(const char* text, size_t size, const LineFilter& filter,
                                   std::vector<std::vector<double>>* values) const {
  Scratch s;
  values->resize(learned_.size());
  uint64_t rows = 0;
  ForEachLine(text, size, filter, [&](uint64_t, uint64_t line, const char* begin, const char* end) {
    if (end == begin || !filter.Keep(line)) return;
    if (Tokenize(begin, end, &s) != nullptr || s.fields.size() != ncols_) return;
    if (split_col_ >= 0 && !SplitKeeps(s.fields[split_col_])) return;
    ++rows;
    for (size_t j = 0; j < learned_.size(); ++j) {
      std::string_view v = s.fields[numeric_[learned_[j]].col];
      double x;
      if (IsMissing(v) || !ParseWhole(v, &x)) x = std::nan("");
      (*values)[j].push_back(x);
    }
  });
  return rows;
}

}  // namespace sparrow::data
