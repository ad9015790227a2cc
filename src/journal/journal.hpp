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
#include <string>
#include <string_view>
#include <vector>

#include "journal/lmdb_env.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::journal {

class Journal {
 public:
  static Result<Journal> open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size = LmdbEnv::kDefaultMapSize);

  // Assigns record.id (last id + 1) and stores it with its in-flight index entry, durably.
  Status insert(TxRecord& record);
  // Replaces record `record.id`; the in-flight index follows is_terminal(record.state).
  Status put(const TxRecord& record, LmdbEnv::Commit commit = LmdbEnv::Commit::durable);

  Result<TxRecord> get(std::uint64_t id) const;
  Result<std::vector<TxRecord>> list() const;
  // Ids of non-terminal records, ascending.
  Result<std::vector<std::uint64_t>> inflight() const;

  std::size_t map_size() const { return env_.map_size(); }

 private:
  Status scan(MDB_dbi dbi,
              const std::function<Status(std::uint64_t, std::string_view)>& fn) const;
  LmdbEnv env_;
};

}  // namespace reftx::journal
