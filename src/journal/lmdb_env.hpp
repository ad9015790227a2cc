// RAII wrapper of one LMDB environment holding the reftx journal.
//
// Durability: write() commits are synced per LMDB's default (data fdatasync + O_DSYNC meta)
// unless the env was opened non-durable (MDB_NOSYNC), or the caller asks for a lazy commit
// (MDB_NOMETASYNC: data synced, meta page flushed by the next synced commit; a power loss may
// undo that one commit, never corrupt the database).
// One MDB_env per journal directory per process: LMDB forbids opening an environment twice in
// one process (closing the second would drop the first one's fcntl locks), so every LmdbEnv on
// the same directory shares one handle, closed with the last of them.
// Thread-safety: safe to use from several threads; writes are exclusive within the process
// (a write may grow the map, which requires no other transaction of this process to be open).
// Never use across fork().
#pragma once

#include <lmdb.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reftx/error.hpp"

namespace reftx::journal {

// Maps an LMDB return code to an Error naming the failing call. Corruption-type codes map to
// ErrorKind::corrupt_journal, everything else to environment.
Error lmdb_error(const char* call, int rc);

class LmdbEnv {
 public:
  enum class Commit { durable, lazy };

  struct Shared;  // the process-wide handle of one directory

  LmdbEnv() = default;

  // Opens (creating unless read_only) the environment in `dir` with its named databases.
  // Clears reader slots of dead processes. A directory already open read-only in this process
  // cannot be opened read-write. `initial_map_size` is a starting point only: the map grows on
  // demand.
  //
  // Before LMDB maps anything, the files are checked (docs/journal-format.md, "Opening"):
  // the directory and data.mdb must be a directory and a regular file, data.mdb's size and meta
  // pages must be sane (journal/lmdb_format.hpp). Damage -> corrupt_journal, access or I/O
  // problems -> environment. "No journal yet" is a missing journal directory or an empty one:
  // read_only -> not_found; otherwise the journal is created aside (`<dir>.new-<random>`, with
  // its databases and the `initial_meta` entries in the `meta` database), synced, and renamed
  // into place, so a journal directory never exists without a complete data.mdb.
  static constexpr std::size_t kDefaultMapSize = std::size_t{256} << 20;  // sparse on disk
  using MetaEntries = std::vector<std::pair<std::string, std::string>>;
  static Result<LmdbEnv> open(const std::string& dir, bool read_only, bool durable,
                              std::size_t initial_map_size = kDefaultMapSize,
                              const MetaEntries& initial_meta = {});

  // The checks of open() plus a bounds-checked walk of every page (`reftx journal check`).
  // Needs no open environment and maps nothing. Returns a summary; not_found without a journal.
  static Result<std::string> check_files(const std::string& dir);

  // Runs fn in a write transaction and commits it. Grows the map and retries on MDB_MAP_FULL,
  // adopts another process's growth on MDB_MAP_RESIZED. fn may run more than once.
  Status write(const std::function<Status(MDB_txn*)>& fn, Commit commit = Commit::durable);
  // Runs fn in a read-only snapshot.
  Status read(const std::function<Status(MDB_txn*)>& fn) const;

  MDB_dbi records() const;               // id (u64 big-endian) -> encoded record
  MDB_dbi inflight() const;              // id -> empty: non-terminal records only
  std::optional<MDB_dbi> state() const;  // tool state key -> value; nullopt: none written yet
  std::optional<MDB_dbi> meta() const;   // journal facts (its repository); nullopt: old journal
  const std::string& dir() const;
  std::size_t map_size() const;
  std::size_t max_key_size() const;

 private:
  std::shared_ptr<Shared> shared_;
  bool durable_ = true;
};

}  // namespace reftx::journal
