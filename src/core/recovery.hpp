// Recovery of transactions whose owner died (docs/protocol.md, "Recovery").
#pragma once

#include "core/context.hpp"
#include "core/reconcile.hpp"
#include "reftx/store.hpp"
#include "util/file_lock.hpp"

namespace reftx::core {

// For each in-flight record whose owner lock can be taken (owner and its git child dead):
// remove its stale locks and reconcile it to a terminal state. Then deletes owner files that
// are dead and no longer referenced. Records of live owners are counted, never touched.
// REQUIRES: `recovery_lock` is held (it is also inherited by the git processes spawned, so a
// recovery killed mid-commit keeps the next one waiting until its git is gone).
// Removes the stale locks of `record`, whose git is gone, and reconciles it.
// REQUIRES: `recovery_lock` is held; nobody else is driving `record`.
Result<ReconcileOutcome> recover_one(detail::StoreState& store, TxRecord& record,
                                     const util::FileLock& recovery_lock,
                                     bool recovery_crash_points);

Result<RecoveryReport> recover_dead_owners(detail::StoreState& store,
                                           const util::FileLock& recovery_lock);

}  // namespace reftx::core
