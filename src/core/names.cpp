// String forms of the public enums, Error rendering and the version.
#include "core/record_states.hpp"
#include "reftx/reftx.hpp"

namespace reftx {

const char* version() {
  return REFTX_VERSION;
}

const char* to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
      return "invalid-input";
    case ErrorKind::conflict:
      return "conflict";
    case ErrorKind::locked:
      return "locked";
    case ErrorKind::not_found:
      return "not-found";
    case ErrorKind::corrupt_journal:
      return "corrupt-journal";
    case ErrorKind::environment:
      return "environment";
  }
  return "unknown";
}

std::string Error::describe() const {
  return line > 0 ? "line " + std::to_string(line) + ": " + message : message;
}

const char* to_string(RefOp op) {
  switch (op) {
    case RefOp::update:
      return "update";
    case RefOp::create:
      return "create";
    case RefOp::remove:
      return "delete";
    case RefOp::verify:
      return "verify";
  }
  return "unknown";
}

const char* to_string(TxState state) {
  switch (state) {
    case TxState::pending:
      return "pending";
    case TxState::committing:
      return "committing";
    case TxState::rolling_back:
      return "rolling-back";
    case TxState::committed:
      return "committed";
    case TxState::aborted:
      return "aborted";
  }
  return "unknown";
}

bool is_terminal(TxState state) {
  return !core::in_flight(state);  // the state machine owns the rule
}

}  // namespace reftx
