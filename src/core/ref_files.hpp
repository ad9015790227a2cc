// The files git keeps for refs: making them durable and removing the stale locks of a dead
// transaction.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "git/repository.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

// fsyncs every directory in which the record's git runs may have created, renamed or removed
// files, in whichever direction they went and whether they committed or aborted: each ref's
// directory up to refs/ (its .lock), the common dir when a ref is created or deleted
// (packed-refs and its .lock/.new), the git dir when HEAD points to one of the refs (HEAD.lock).
// Run before a record becomes terminal, so that no removal can come back after a power loss
// next to a terminal record (docs/protocol.md, "Durability").
Status sync_ref_dirs(git::Repository& repo, const TxRecord& record);

// The directories to fsync after git commits `record` (forward), computed BEFORE prepare: each
// changed ref's directory (the rename or unlink happened there), the parent of every directory
// git will have to create, the common dir when a ref is deleted (packed-refs rewrite), and the
// git dir when HEAD points to a changed ref (git removes HEAD.lock there).
// Cheaper than sync_ref_dirs, which cannot know which directories were new.
std::set<std::string> plan_commit_sync(git::Repository& repo, const TxRecord& record);
Status fsync_dirs(const std::set<std::string>& dirs);

// A git run that deletes refs holds packed-refs.lock from `prepare: ok` until it has released
// every ref lock (it takes that lock after them and releases it after them). A hard link to it,
// <common dir>/reftx-<id>.packed-refs-witness, made right after `prepare: ok`, keeps the lock's
// inode allocated: if git dies after releasing its ref locks but before packed-refs.lock,
// recovery still knows that lock is transaction <id>'s. Best effort (no error): without the
// link, recovery falls back to the other witnesses. REQUIRES: the run deletes a ref and git
// answered `prepare: ok`.
void link_packed_refs_witness(const git::Repository& repo, std::uint64_t id);
// Removes the link once git has released its locks or recovery has handled them.
void drop_packed_refs_witness(const git::Repository& repo, std::uint64_t id);

// Removes the lock files that a dead transaction's git left behind, and nothing else:
//  - <ref>.lock of the transaction's refs, created after the record, holding its new or old
//    value, or empty (delete / verify);
//  - HEAD.lock when HEAD points to one of its refs (git locks HEAD to log it), empty;
//  - packed-refs.lock and packed-refs.new when it deletes a ref and packed-refs.new no longer
//    lists that ref, or when packed-refs.lock is the file its witness link (above) points to.
// The witness link is removed last.
// A lock that matches but could also belong to a live transaction (its ref is in `busy_refs`,
// or it is HEAD.lock / packed-refs.lock while live transactions exist) is not removed but
// reported as deferred: the caller must leave the record non-terminal and retry later.
// REQUIRES: the record's owner is dead and the caller holds the recovery lock.
struct StaleLocks {
  std::vector<std::string> removed;
  std::vector<std::string> deferred;
};
Result<StaleLocks> remove_stale_locks(git::Repository& repo, const TxRecord& record,
                                      const std::set<std::string>& busy_refs);

}  // namespace reftx::core
