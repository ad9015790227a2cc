// Value types shared by the script parser, transactions and the journal.
//
// Object ids are 40 lowercase hex digits (SHA-1 repositories); kZeroOid means "absent".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace reftx {

inline const std::string kZeroOid(40, '0');

// One change requested on a ref. The names follow `git update-ref --stdin`.
enum class RefOp : std::uint8_t {
  update = 1,  // set to new_oid (kZeroOid deletes); expected_old optional
  create = 2,  // set to new_oid; the ref must not exist
  remove = 3,  // delete; expected_old optional (never kZeroOid)
  verify = 4,  // change nothing; the ref must have expected_old (kZeroOid: must not exist)
};

const char* to_string(RefOp op);

struct RefChange {
  RefOp op = RefOp::update;
  std::string name;                         // full name, must start with "refs/"
  std::string new_oid;                      // kZeroOid for remove/verify
  std::optional<std::string> expected_old;  // compare-and-swap value; nullopt = not checked
  int line = 0;                             // script line (or queue position) for messages
};

// Lifecycle of a journaled transaction; see docs/protocol.md.
enum class TxState : std::uint8_t {
  pending = 1,       // recorded, git may hold locks; not decided. Recovery rolls back.
  committing = 2,    // decision to commit is durable. Recovery rolls forward.
  rolling_back = 3,  // git's commit failed part-way; undoing applied refs. Recovery rolls back.
  committed = 4,     // terminal: every ref changed (see conflicts)
  aborted = 5,       // terminal: no ref changed; reason says why
};

const char* to_string(TxState state);
bool is_terminal(TxState state);

struct RefRecord {
  std::string name;
  RefOp op = RefOp::update;
  std::optional<std::string> expected_old;  // what the caller required, if anything
  std::string old_oid;  // value the ref really had before the transaction (kZeroOid = absent)
  bool old_known = false;  // false only while pending: old_oid not read under git's lock yet
  std::string new_oid;     // kZeroOid for a delete; for verify, equals old
};

// One journal record: a transaction and what became of it.
struct TxRecord {
  std::uint64_t id = 0;
  TxState state = TxState::pending;
  std::string message;
  std::int64_t created_ns = 0;  // Unix time, nanoseconds
  std::int64_t updated_ns = 0;
  std::int32_t owner_pid = 0;
  std::string owner;  // name of the owner's liveness lock
  std::vector<RefRecord> refs;
  std::string reason;                  // why it was aborted or rolled back
  std::vector<std::string> conflicts;  // refs left alone because another writer changed them
};

}  // namespace reftx
