// Error values returned by every fallible reftx call.
//
// Thread-safety: plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace reftx {

// What went wrong, coarse enough for a caller to choose a reaction.
enum class ErrorKind {
  invalid_input,  // bad ref name, oid, script line, missing object, duplicate ref. Nothing changed.
  conflict,       // your data is stale: an old value did not match, a name clashed, a file
                  // changed, a hook refused. Nothing applied; journaled as aborted.
  locked,         // retry later: another writer holds a lock (a ref's .lock, a file another
                  // reftx transaction is changing). Nothing applied.
  not_found,      // the requested journal record or key does not exist.
  corrupt_journal,  // a journal record or the database does not decode. Refs are never touched.
  environment,      // I/O, git or LMDB failure, not a repository, ...
};

// Stable lowercase name of a kind ("invalid-input", "conflict", "locked", ...).
const char* to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::environment;
  std::string message;  // lowercase, names the bad input or failing call
  int line = 0;         // 1-based script line / change position it refers to, 0 if none
  std::uint64_t transaction_id = 0;  // journal id the error was recorded under, 0 if none
  // The foreign code behind an environment or corrupt_journal error: errno (> 0) or an LMDB
  // return code (< 0, MDB_*); 0 if none.
  int system_code = 0;

  // "line 3: bad oid '12'" style rendering.
  std::string describe() const;
};

// A value or an Error. Must be checked: [[nodiscard]] on the type.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  // REQUIRES: !ok().
  const Error& error() const { return *error_; }

 private:
  std::optional<T> value_;
  std::optional<Error> error_;
};

// Result of a call that returns nothing on success.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok().
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace reftx
