// The transaction journal: one record per transaction, keyed by a monotonically increasing id,
// plus an index of non-terminal records so recovery costs O(in-flight), not O(history).
//
// Durability: insert() and put(.., durable) return only after the LMDB commit is synced (unless
// the journal was opened non-durable). put(.., lazy) may be undone by a power loss, never torn.
// Thread-safety: not thread-safe; serialized by the owning Store. Several processes may use one
// journal at once (LMDB serializes writers).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "journal/lmdb_env.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::journal {

// What a record write does to the tool state, in the same LMDB transaction.
enum class StateStep {
  none,
  observe,  // fill each key's unknown old value from the state (nothing changes)
  apply,    // fill old values, then set/unset every key: the commit point
  revert,   // put back old values of keys still holding the new one; others become conflicts
};

// How one record write is done. Chosen by the record state machine (core/record_states.hpp),
// which owns the rules; the journal only carries them out.
struct RecordWrite {
  bool in_flight = true;  // keep (true) or drop (false) the record's in-flight index entry
  LmdbEnv::Commit commit = LmdbEnv::Commit::durable;
  StateStep state = StateStep::none;
};

class Journal {
 public:
  // `initial_meta`: the `meta` entries of a journal this call creates (LmdbEnv::open).
  static Result<Journal> open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size = LmdbEnv::kDefaultMapSize,
                              const LmdbEnv::MetaEntries& initial_meta = {});

  // Facts about the journal itself (docs/journal-format.md, database `meta`): nullopt if absent
  // (also in an old journal without the database, opened read-only).
  Result<std::optional<std::string>> get_meta(const std::string& key) const;
  // Writes them in one durable LMDB transaction. REQUIRES: opened read-write.
  Status put_meta(const LmdbEnv::MetaEntries& entries);

  // Assigns record.id (last id + 1) and stores it with its in-flight index entry, durably.
  // `admit`, if given, is called with every in-flight record inside the same write
  // transaction; an error from it cancels the insert (no two writers can both pass it).
  Status insert(TxRecord& record,
                const std::function<Status(const TxRecord& inflight)>& admit = {});
  // Replaces record `record.id` as `how` says, with its state step on the record's keys in the
  // same LMDB transaction; record.keys (old values) and record.conflicts are updated to what
  // was written.
  Status put(TxRecord& record, const RecordWrite& how);

  // Tool state, each call one consistent snapshot.
  Result<std::optional<std::string>> get_state(const std::string& key) const;
  Result<std::vector<std::pair<std::string, std::string>>> list_state(
      const std::string& prefix) const;
  // Longest key LMDB accepts.
  std::size_t max_key_size() const;

  Result<TxRecord> get(std::uint64_t id) const;
  // The highest id ever given (0: no record).
  Result<std::uint64_t> last_id() const;
  Result<std::vector<TxRecord>> list() const;
  // Ids of non-terminal records, ascending.
  Result<std::vector<std::uint64_t>> inflight() const;

  std::size_t map_size() const { return env_.map_size(); }

 private:
  Status scan(MDB_dbi dbi, const std::function<Status(std::uint64_t, std::string_view)>& fn) const;
  LmdbEnv env_;
};

}  // namespace reftx::journal
