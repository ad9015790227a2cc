// Recovery of transactions whose owner died (docs/protocol.md, "Recovery").
#pragma once

#include <string>

#include "core/file_ops.hpp"
#include "core/reconcile.hpp"
#include "git/repository.hpp"
#include "journal/journal.hpp"
#include "reftx/store.hpp"
#include "util/file_lock.hpp"

namespace reftx::core {

// What recovery works with.
struct RecoveryScope {
  journal::Journal& journal;
  git::Repository& repo;
  const FileIo& files;
  git::UpdateRefConfig git;        // its inherit_fd is replaced by the recovery lock's
  const std::string& journal_dir;  // owner files and the recovery lock live here
  const std::string& own_owner;    // this Store's owner name, "" if it has none yet
};

// Removes the stale locks of `record`, whose git is gone, then reconciles it (reconcile.hpp).
// The recovery lock is inherited by the git processes spawned, so a recovery killed mid-commit
// keeps the next one waiting until its git is gone.
// REQUIRES: `recovery_lock` is held exclusively; nobody else is driving `record`.
Result<ReconcileOutcome> recover_one(const RecoveryScope& scope, TxRecord& record,
                                     const util::FileLock& recovery_lock);

// For each in-flight record whose owner and its git child are dead, or that belongs to this
// Store (its mutex is held, so none of its own transactions is running: an in-flight one was
// left by a git that died under it): recover_one. Records of live owners are counted, never
// touched; one record that cannot be finished does not stop the others. Then deletes owner
// files that are dead and no longer referenced. The first recovery after a reboot first
// removes the provable leftovers of the previous boot's terminal records (leftovers.hpp).
// REQUIRES: `recovery_lock` is held exclusively.
Result<RecoveryReport> recover_dead_owners(const RecoveryScope& scope,
                                           const util::FileLock& recovery_lock);

}  // namespace reftx::core
