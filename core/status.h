// Status and Result<T>: errors as values at every boundary.
//
// A Status is either OK or carries a code and a one-line message a person can act on
// ("data/train.csv:17: column 'age': not a number: 'abc'"). Result<T> holds a T or a
// non-OK Status. Both are cheap to move; OK carries no allocation.
//
// Thread safety: values; no shared state.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace sparrow {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // the caller's input is wrong (bad flag, bad config value, bad data line)
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,  // state does not allow it (table unknown, node not registered)
  kOutOfRange,
  kDataLoss,     // truncated or corrupt file, CRC mismatch
  kUnavailable,  // a peer is dead or unreachable
  kDeadlineExceeded,
  kAborted,  // cluster shut down while the operation was pending
  kInternal,
  kUnimplemented,
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message)
      : rep_(code == Code::kOk ? nullptr
                               : std::make_shared<const Rep>(Rep{code, std::move(message)})) {}

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const;
  // "InvalidArgument: message", or "OK".
  std::string ToString() const;

  // Returns a Status with `context + ": "` prepended to the message; OK stays OK.
  Status WithContext(const std::string& context) const;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status NotFound(std::string m) {
  return Status(Code::kNotFound, std::move(m));
}
inline Status FailedPrecondition(std::string m) {
  return Status(Code::kFailedPrecondition, std::move(m));
}
inline Status OutOfRange(std::string m) {
  return Status(Code::kOutOfRange, std::move(m));
}
inline Status DataLoss(std::string m) {
  return Status(Code::kDataLoss, std::move(m));
}
inline Status Unavailable(std::string m) {
  return Status(Code::kUnavailable, std::move(m));
}
inline Status DeadlineExceeded(std::string m) {
  return Status(Code::kDeadlineExceeded, std::move(m));
}
inline Status Aborted(std::string m) {
  return Status(Code::kAborted, std::move(m));
}
inline Status Internal(std::string m) {
  return Status(Code::kInternal, std::move(m));
}
inline Status Unimplemented(std::string m) {
  return Status(Code::kUnimplemented, std::move(m));
}

// Result<T>: a T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // Requires ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sparrow

// Evaluates `expr` (a Status); returns it from the enclosing function unless OK.
#define SPARROW_RETURN_IF_ERROR(expr) \
  do {                                \
    ::sparrow::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

#define SPARROW_CONCAT_INNER(a, b) a##b
#define SPARROW_CONCAT(a, b) SPARROW_CONCAT_INNER(a, b)

// Declares `lhs` from a Result<T> expression, or returns its Status.
#define SPARROW_ASSIGN_OR_RETURN(lhs, expr) \
  SPARROW_ASSIGN_OR_RETURN_IMPL(SPARROW_CONCAT(_res_, __LINE__), lhs, expr)
#define SPARROW_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
