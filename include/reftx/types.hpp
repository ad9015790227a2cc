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

// One working-tree file to replace or remove. Paths are relative to the work tree, '/'-separated.
struct FileChange {
  std::string path;
  std::string new_blob;  // blob id of the new content; kZeroOid removes the file
  // Content to store as the new blob at commit (library only); when set, new_blob is ignored.
  std::optional<std::string> content;
  std::optional<std::string> expected_old;  // blob the file must hold; kZeroOid = must not exist
  std::uint32_t mode = 0;  // 0 = keep the file's mode (new files: 100644); 0100644 or 0100755
  int line = 0;
};

// One tool-state key to set or unset, in the journal's LMDB database.
struct KeyChange {
  std::string key;                   // 1..511 bytes, no NUL
  std::optional<std::string> value;  // nullopt unsets
  int line = 0;
};

// Everything one script or transaction asks for, in script order within each kind.
struct Changes {
  std::vector<RefChange> refs;
  std::vector<FileChange> files;
  std::vector<KeyChange> keys;
  bool empty() const { return refs.empty() && files.empty() && keys.empty(); }
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
  std::string old_oid;     // value the ref really had before the transaction (kZeroOid = absent)
  bool old_known = false;  // false only while pending: old_oid not read under git's lock yet
  std::string new_oid;     // kZeroOid for a delete; for verify, equals old
};

// A working-tree file in the journal. Modes are POSIX st_mode values (S_IFREG | permissions);
// 0 = absent. Blob ids use kZeroOid for "absent".
struct FileRecord {
  std::string path;
  std::optional<std::string> expected_old;
  std::string old_blob = kZeroOid;  // what the file held, saved durably in the object database
  std::uint32_t old_mode = 0;
  bool old_known = false;                 // false while pending: not read yet
  std::string new_blob = kZeroOid;        // kZeroOid: the transaction removes the file
  std::uint32_t requested_mode = 0;       // as asked (0, 0100644, 0100755)
  std::uint32_t new_mode = 0;             // resolved when old is read
  std::vector<std::string> created_dirs;  // parents the transaction creates, outermost first
};

// A tool-state key in the journal. nullopt = absent.
struct KeyRecord {
  std::string key;
  std::optional<std::string> old_value;
  bool old_known = false;  // false until the decision (or abort) reads it
  std::optional<std::string> new_value;
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
  std::string work_tree;  // absolute; empty when the transaction has no files
  std::vector<FileRecord> files;
  std::vector<KeyRecord> keys;
  std::string reason;  // why it was aborted or rolled back
  std::vector<std::string>
      conflicts;  // refs, files, keys left alone because another writer changed them
};

}  // namespace reftx
