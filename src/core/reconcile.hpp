// Drives a journaled transaction whose git process is gone to a terminal state, by comparing
// its record with the refs as they are now:
//   pending      -> aborted (nothing of it was applied: git never received `commit`)
//   committing   -> refs still at old are moved to new (CAS); if git refuses for a reason other
//                   than a held lock (a name clash), the record becomes rolling_back
//   rolling_back -> refs at new are moved back to old (CAS) -> aborted
// A ref found at neither its old nor its new value was changed by a writer outside reftx: it is
// left alone and listed in record.conflicts. Idempotent; every write is a compare-and-swap.
#pragma once

#include <set>
#include <string>

#include "core/context.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

struct ReconcileOutcome {
  RecoveryAction::Kind kind = RecoveryAction::Kind::rolled_forward;
  std::string detail;
};

struct ReconcileMode {
  bool remove_stale_locks = false;     // the record's git died without cleaning up
  bool recovery_crash_points = false;  // reached from recovery: the recover.* points apply
};

// `inherit_fd`: the lock the spawned git processes must keep alive.
// `busy_refs`: refs of live transactions, whose locks are never removed as stale.
// On `blocked` (a ref lock held by a live writer) the record is left non-terminal. An
// environment error (git cannot run, I/O) is returned as an error and leaves the record
// non-terminal too: only git's own refusal turns a decided commit into a rollback.
Result<ReconcileOutcome> reconcile(detail::StoreState& store, TxRecord& record, ReconcileMode mode,
                                   int inherit_fd, const std::set<std::string>& busy_refs = {});

}  // namespace reftx::core
