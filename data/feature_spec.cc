#include "data/feature_spec.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/hash.h"
#include "data/bins.h"
#include "data/byte_stream.h"
#include "data/csv_parser.h"
#include "data/parser_factory.h"

namespace sparrow::data {
namespace {

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string name) : name_(std::move(name)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (error_.empty()) {
      error_ = name_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message;
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string name_;
  std::string error_;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Checks roles against the header, applies `unlisted`, assigns fields.
Status ResolveColumns(const DataSpec& data, const std::vector<std::string>& header,
                      const std::string& file, ColumnSpec* cs) {
  std::map<std::string, std::string> role;  // column -> the first role naming it
  auto claim = [&](const std::string& name, const std::string& what) -> Status {
    auto [it, fresh] = role.emplace(name, what);
    if (!fresh) {
      return InvalidArgument("columns: column '" + name + "' is both " + it->second + " and " +
                             what);
    }
    return Status::Ok();
  };
  if (cs->has_label()) SPARROW_RETURN_IF_ERROR(claim(cs->label(), "label"));
  if (cs->has_weight()) SPARROW_RETURN_IF_ERROR(claim(cs->weight(), "weight"));
  if (cs->has_offset()) SPARROW_RETURN_IF_ERROR(claim(cs->offset(), "offset"));
  if (cs->has_exposure()) SPARROW_RETURN_IF_ERROR(claim(cs->exposure(), "exposure"));
  for (const auto& n : cs->numeric()) SPARROW_RETURN_IF_ERROR(claim(n.name(), "numeric"));
  for (const auto& c : cs->categorical()) SPARROW_RETURN_IF_ERROR(claim(c.name(), "categorical"));
  for (const auto& i : cs->ignore()) SPARROW_RETURN_IF_ERROR(claim(i, "ignored"));
  std::set<std::string> used;  // named by a split or a cross: not unlisted
  if (data.split().has_column()) used.insert(data.split().column());
  for (const auto& x : cs->cross()) used.insert(x.columns().begin(), x.columns().end());
  std::set<std::string> in_header(header.begin(), header.end());
  for (const auto& [name, what] : role) {
    if (!in_header.count(name)) {
      return InvalidArgument("columns: " + what + " column '" + name +
                             "' is not in the header of " + file);
    }
  }
  for (const std::string& name : used) {
    if (!in_header.count(name)) {
      return InvalidArgument("columns: column '" + name +
                             "' (split or cross) is not in the header of " + file);
    }
  }
  std::string unlisted;
  for (const std::string& name : header) {
    if (role.count(name) || used.count(name)) continue;
    switch (cs->unlisted()) {
      case ColumnSpec::ERROR:
        unlisted += (unlisted.empty() ? "'" : ", '") + name + "'";
        break;
      case ColumnSpec::IGNORE:
        cs->add_ignore(name);
        break;
      case ColumnSpec::CATEGORICAL:
        cs->add_categorical()->set_name(name);
        break;
    }
  }
  if (!unlisted.empty()) {
    return InvalidArgument("columns: " + file + " has columns the spec does not name: " + unlisted +
                           " (list them, add them to `ignore`, or set `unlisted: IGNORE`)");
  }
  uint32_t next = 0;
  for (auto& n : *cs->mutable_numeric()) {
    if (!n.has_field()) n.set_field(next);
    ++next;
  }
  for (auto& c : *cs->mutable_categorical()) {
    if (!c.has_field()) c.set_field(next);
    ++next;
  }
  for (auto& x : *cs->mutable_cross()) {
    if (!x.has_field()) x.set_field(next);
    ++next;
  }
  if (cs->missing_size() == 0) cs->add_missing("NA");
  if (!cs->has_delimiter()) cs->set_delimiter(cs->delimiter());
  return Status::Ok();
}

uint32_t NumFields(const ColumnSpec& cs) {
  uint32_t n = 0;
  for (const auto& x : cs.numeric()) n = std::max(n, x.field() + 1);
  for (const auto& x : cs.categorical()) n = std::max(n, x.field() + 1);
  for (const auto& x : cs.cross()) n = std::max(n, x.field() + 1);
  return n;
}

}  // namespace

Result<DataSpec> ParseDataSpec(std::string_view text, const std::string& name) {
  DataSpec spec;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors(name);
  parser.RecordErrorsTo(&errors);
  google::protobuf::io::ArrayInputStream in(text.data(), static_cast<int>(text.size()));
  if (!parser.Parse(&in, &spec)) return InvalidArgument(errors.error());
  return spec;
}

Result<DataSpec> LoadDataSpec(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open data spec");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseDataSpec(ss.str(), path);
}

Format GuessFormat(const std::string& path) {
  std::string p = path;
  for (const char* z : {".gz", ".zst"}) {
    if (EndsWith(p, z)) p.resize(p.size() - std::strlen(z));
  }
  if (EndsWith(p, ".svm") || EndsWith(p, ".libsvm") || EndsWith(p, ".txt")) return LIBSVM;
  if (EndsWith(p, ".ffm") || EndsWith(p, ".libffm")) return LIBFFM;
  if (EndsWith(p, ".csv")) return CSV;
  if (EndsWith(p, ".tsv")) return CRITEO;
  if (EndsWith(p, ".spc")) return CACHE;
  return FORMAT_UNSPECIFIED;
}

ColumnSpec CriteoColumns(bool has_label) {
  ColumnSpec cs;
  if (has_label) {
    cs.set_label("label");
    cs.add_names("label");
  }
  for (int i = 1; i <= 13; ++i) {
    std::string name = "I" + std::to_string(i);
    cs.add_names(name);
    NumericColumn* n = cs.add_numeric();
    n->set_name(name);
    n->set_transform(NumericColumn::LOG_SQUARE_CATEGORY);
  }
  for (int i = 1; i <= 26; ++i) {
    std::string name = "C" + std::to_string(i);
    cs.add_names(name);
    cs.add_categorical()->set_name(name);
  }
  cs.set_delimiter("\t");
  return cs;
}

Result<std::string> ReadFirstLine(const std::string& path) {
  SPARROW_ASSIGN_OR_RETURN(auto stream, OpenByteStream(path));
  std::string line;
  char buf[4096];
  for (;;) {
    SPARROW_ASSIGN_OR_RETURN(size_t got, stream->Read(buf, sizeof(buf)));
    if (got == 0) break;
    const char* nl = static_cast<const char*>(std::memchr(buf, '\n', got));
    line.append(buf, nl ? nl - buf : got);
    if (nl != nullptr) break;
    if (line.size() > (64 << 20)) return InvalidArgument(path + ":1: header line too long");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<FeatureSpec> ResolveFeatureSpec(const DataSpec& data) {
  return ResolveFeatureSpec(data, nullptr);
}

Result<FeatureSpec> ResolveFeatureSpec(const DataSpec& data,
                                       const std::vector<std::string>* known_header) {
  FeatureSpec fs;
  const std::string first = data.train_size() > 0  ? data.train(0)
                            : data.test_size() > 0 ? data.test(0)
                                                   : std::string();
  Format format = data.format();
  if (format == FORMAT_UNSPECIFIED && !first.empty()) format = GuessFormat(first);
  if (format == FORMAT_UNSPECIFIED) {
    return InvalidArgument("format: unspecified and not guessable from '" + first +
                           "'; set format: LIBSVM, LIBFFM, CSV, CRITEO or CACHE");
  }
  fs.set_hash_version(kFeatureHashVersion);
  fs.set_hash_seed(data.hash_seed());
  fs.set_format(format);
  fs.set_hash_indices(data.hash_indices());
  fs.set_max_index(data.max_index());
  fs.set_max_field(data.max_field());
  if (data.has_binarize_label_above()) fs.set_binarize_label_above(data.binarize_label_above());
  fs.set_has_label(data.has_label());
  switch (format) {
    case LIBSVM:
      fs.set_num_fields(1);
      return fs;
    case LIBFFM:
      fs.set_num_fields(data.max_field());
      return fs;
    case CACHE:
      return InvalidArgument(
          "format: a CACHE carries its own feature spec; read it with ReadCache");
    case CSV:
    case CRITEO:
      break;
    default:
      return InvalidArgument("format: unknown format " + std::to_string(format));
  }
  ColumnSpec* cs = fs.mutable_columns();
  if (format == CRITEO) {
    // The fixed Criteo spec, or the user's own transformation of its positional columns.
    const ColumnSpec preset = CriteoColumns(data.has_label());
    *cs = data.has_columns() ? data.columns() : preset;
    if (cs->names_size() == 0) *cs->mutable_names() = preset.names();
    if (!cs->has_delimiter()) cs->set_delimiter(preset.delimiter());
  } else {
    if (!data.has_columns())
      return InvalidArgument("columns: a CSV data spec needs a `columns` block");
    *cs = data.columns();
  }
  std::vector<std::string> header;
  if (known_header != nullptr) {
    header = *known_header;
  } else {
    if (first.empty()) return InvalidArgument("train: no files to read the header from");
    uint64_t header_lines;
    SPARROW_ASSIGN_OR_RETURN(header, ColumnNames(fs, first, &header_lines));
  }
  SPARROW_RETURN_IF_ERROR(ResolveColumns(data, header, first, cs));
  SPARROW_RETURN_IF_ERROR(LearnBins(data, &fs));
  fs.set_num_fields(NumFields(*cs));
  // Compile it once here so a spec error shows now, not when the first worker reads.
  Result<std::unique_ptr<CsvParser>> check = CsvParser::Create(fs, header, data.split(), 1);
  if (!check.ok()) return check.status().WithContext(first);
  return fs;
}

uint64_t Fingerprint(const FeatureSpec& spec) {
  std::string bytes;
  google::protobuf::io::StringOutputStream out(&bytes);
  {
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&coded);
  }
  return XXH3_64bits(bytes.data(), bytes.size());
}

}  // namespace sparrow::data
