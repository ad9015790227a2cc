// Test helper: the journal as `reftx journal list|show --json` prints it. One reader runs the
// command; records come either as parsed JSON documents (for tests of the format itself) or as
// typed JournalRecords decoded from them (for tests of what the journal says).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/json.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

struct JournalRef {
  std::string name;
  std::string op;
  std::optional<std::string> old_oid;  // null while unknown
  std::string new_oid;
};

// A working-tree file of a record ("files").
struct JournalFile {
  std::string path;
  std::optional<std::string> old_blob;  // null while unknown; 40 zeros: absent
  std::string new_blob;                 // 40 zeros: removed
  std::optional<std::string> mode;      // "100644" / "100755"; null when removed
  std::optional<std::string> old_mode;  // null while unknown or when absent
  std::optional<std::string> expected_old;
};

// A tool-state key of a record ("keys").
struct JournalKey {
  std::string key;
  std::optional<std::string> old_value;  // null: absent (or unknown, see old_known)
  bool old_known = false;
  std::optional<std::string> new_value;  // null: unset
};

struct JournalRecord {
  std::uint64_t id = 0;
  std::string state;
  std::string message;
  std::string reason;
  std::vector<JournalRef> refs;                               // changed refs
  std::vector<std::pair<std::string, std::string>> verified;  // name, expected
  std::vector<std::string> conflicts;
  std::optional<std::string> work_tree;  // null when the transaction has no files
  std::vector<JournalFile> files;
  std::vector<JournalKey> keys;
  std::string raw;  // the JSON line
};

bool is_terminal_state(const std::string& state);

// Decodes one JSON line; throws std::runtime_error if it is not a well-formed record.
JournalRecord to_record(const std::string& line);

// The lines of `reftx [globals] -C <repo> journal list --json`; REQUIREs exit 0. Read-only:
// never recovers anything.
std::vector<std::string> journal_lines(const TempRepo& repo,
                                       const std::vector<std::string>& globals = {});

// Every record as a JSON document; a line that does not parse fails the test (FAIL_CHECK).
std::vector<Json> journal_json(const TempRepo& repo, const std::vector<std::string>& globals = {});

// `journal show <id> --json`, parsed; REQUIREs success and exactly one line.
Json show_json(const TempRepo& repo, const std::string& id);

// Typed: every record, or the one with `id` (which must exist).
std::vector<JournalRecord> journal_list(const TempRepo& repo);
JournalRecord journal_show(const TempRepo& repo, std::uint64_t id);

// The record with `message` (CHECKs there are not two), nullopt if none.
std::optional<JournalRecord> find_by_message(const std::vector<JournalRecord>& records,
                                             const std::string& message);

// The entries of a JSON record by name, path or key; nullptr if absent.
const Json* ref_entry(const Json& record, const std::string& name);
const Json* file_entry(const Json& record, const std::string& path);
const Json* key_entry(const Json& record, const std::string& key);

}  // namespace reftx::test
