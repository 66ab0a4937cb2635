#include "serve/request_decoder.h"

#include <string>

namespace sparrow::serve {
namespace {

using simdjson::ondemand::json_type;

const char* TypeName(json_type t) {
  switch (t) {
    case json_type::array:
      return "an array";
    case json_type::object:
      return "an object";
    case json_type::number:
      return "a number";
    case json_type::string:
      return "a string";
    case json_type::boolean:
      return "a boolean";
    case json_type::null:
      return "null";
  }
  return "a value";
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Shorten(std::string_view s) {
  return s.size() > 60 ? std::string(s.substr(0, 60)) + "..." : std::string(s);
}

// simdjson 3.0 lacks document::at_end() (3.1 has it); its root iterator knows, behind a
// protected accessor. Without this, `{"records":[...]} garbage` would pass.
struct RootPeek : simdjson::ondemand::document {
  static bool AtEnd(simdjson::ondemand::document& doc) {
    return (doc.*(&RootPeek::get_root_value_iterator))().json_iter().at_end();
  }
};
bool AtEnd(simdjson::ondemand::document& doc) {
  return RootPeek::AtEnd(doc);
}

Status Bad(size_t record, std::string_view column, const std::string& why) {
  return InvalidArgument("record " + std::to_string(record) + ": column '" + Shorten(column) +
                         "': " + why);
}

// The text of a number token, validated as a finite JSON number.
Status NumberText(simdjson::ondemand::value v, size_t record, std::string_view column,
                  std::string_view* text) {
  *text = TrimRight(v.raw_json_token());
  double d;
  if (v.get_double().get(d) != simdjson::SUCCESS) {
    return Bad(record, column, "not a finite number: " + Shorten(*text));
  }
  return Status::Ok();
}

Status DecodeCsvRecord(const ServingModel& m, const DecodeLimits& limits,
                       simdjson::ondemand::object rec, size_t r, ServingModel::Encoder* enc,
                       data::Batch* batch, Decoded* out) {
  const size_t ncols = m.columns().size();
  const size_t base = out->fields.size();
  out->fields.resize(base + ncols);
  std::string_view* f = out->fields.data() + base;
  const uint32_t stamp = static_cast<uint32_t>(r + 1);
  for (auto field : rec) {
    std::string_view name = field.unescaped_key();
    const int col = m.ColumnIndex(name);
    if (col < 0) {
      if (!limits.ignore_unknown) return Bad(r, name, "unknown column");
      ++out->unknown_ignored;
      continue;
    }
    if (out->seen[col] == stamp) return Bad(r, name, "given twice");
    out->seen[col] = stamp;
    simdjson::ondemand::value v = field.value();
    const json_type t = v.type();
    const ColumnKind kind = m.kind(col);
    if (kind == ColumnKind::kIgnored || t == json_type::null) continue;
    if (t == json_type::number) {
      SPARROW_RETURN_IF_ERROR(NumberText(v, r, name, &f[col]));
    } else if (t == json_type::string && kind == ColumnKind::kText) {
      f[col] = v.get_string();
      if (f[col].empty()) continue;  // "" is missing, as an empty CSV field
    } else {
      return Bad(
          r, name,
          std::string(kind == ColumnKind::kNumber ? "expected a number or null, got "
                                                  : "expected a string, number or null, got ") +
              TypeName(t));
    }
  }
  std::string why = m.EncodeFields(std::span<std::string_view>(f, ncols), enc, batch);
  if (!why.empty()) return InvalidArgument("record " + std::to_string(r) + ": " + why);
  return Status::Ok();
}

Status DecodeSparseRecord(const ServingModel& m, simdjson::ondemand::object rec, size_t r,
                          ServingModel::Encoder* enc, data::Batch* batch, Decoded* out) {
  const size_t base = out->indices.size();
  for (auto field : rec) {
    std::string_view name = field.unescaped_key();
    simdjson::ondemand::value v = field.value();
    const json_type t = v.type();
    if (t != json_type::number) {
      return Bad(r, name, std::string("expected a number, got ") + TypeName(t));
    }
    std::string_view text;
    SPARROW_RETURN_IF_ERROR(NumberText(v, r, name, &text));
    out->indices.push_back(name);
    out->values.push_back(text);
  }
  const size_t n = out->indices.size() - base;
  std::string why =
      m.EncodeSparse(std::span<const std::string_view>(out->indices.data() + base, n),
                     std::span<const std::string_view>(out->values.data() + base, n), enc, batch);
  if (!why.empty()) return InvalidArgument("record " + std::to_string(r) + ": " + why);
  return Status::Ok();
}

Status Decode(const ServingModel& m, const DecodeLimits& limits, simdjson::padded_string_view body,
              simdjson::ondemand::parser* parser, ServingModel::Encoder* enc, data::Batch* batch,
              Decoded* out) {
  simdjson::ondemand::document doc = parser->iterate(body);
  simdjson::ondemand::object top;
  if (doc.type() != json_type::object) return InvalidArgument("the body must be a JSON object");
  top = doc.get_object();
  bool have_records = false;
  for (auto field : top) {
    std::string_view key = field.unescaped_key();
    if (key == "explain") {
      int64_t k;
      if (field.value().get_int64().get(k) != simdjson::SUCCESS || k < 0) {
        return InvalidArgument("'explain' must be a non-negative integer");
      }
      out->explain = static_cast<uint32_t>(std::min<int64_t>(k, limits.max_explain));
    } else if (key == "records") {
      if (have_records) return InvalidArgument("'records' given twice");
      have_records = true;
      simdjson::ondemand::value v = field.value();
      if (v.type() != json_type::array) return InvalidArgument("'records' must be an array");
      for (auto elem : v.get_array()) {
        const size_t r = out->rows;
        if (r >= limits.max_records) {
          return InvalidArgument("too many records: at most " + std::to_string(limits.max_records) +
                                 " per request");
        }
        simdjson::ondemand::value rv = elem.value();
        if (rv.type() != json_type::object) {
          return InvalidArgument("record " + std::to_string(r) + ": must be an object, not " +
                                 TypeName(rv.type()));
        }
        if (m.sparse()) {
          SPARROW_RETURN_IF_ERROR(DecodeSparseRecord(m, rv.get_object(), r, enc, batch, out));
        } else {
          SPARROW_RETURN_IF_ERROR(DecodeCsvRecord(m, limits, rv.get_object(), r, enc, batch, out));
        }
        ++out->rows;
      }
    } else {
      return InvalidArgument("unknown field '" + Shorten(key) +
                             "' (expected \"records\" and optionally \"explain\")");
    }
  }
  if (!AtEnd(doc)) return InvalidArgument("malformed JSON: trailing content after the object");
  if (!have_records) return InvalidArgument("missing 'records'");
  if (out->rows == 0) return InvalidArgument("'records' is empty");
  return Status::Ok();
}

}  // namespace

Status DecodeScoreRequest(const ServingModel& model, const DecodeLimits& limits,
                          simdjson::padded_string_view body, simdjson::ondemand::parser* parser,
                          ServingModel::Encoder* encoder, data::Batch* batch, Decoded* out) {
  batch->Clear();
  batch->has_fields = model.sparse() ? model.ffm() : true;
  out->explain = 0;
  out->rows = 0;
  out->unknown_ignored = 0;
  out->fields.clear();
  out->indices.clear();
  out->values.clear();
  if (out->seen.size() != model.columns().size()) out->seen.assign(model.columns().size(), 0);
  std::fill(out->seen.begin(), out->seen.end(), 0);
  try {
    return Decode(model, limits, body, parser, encoder, batch, out);
  } catch (const simdjson::simdjson_error& e) {
    return InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace sparrow::serve
