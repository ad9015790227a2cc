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

// `recovering`: called by recovery for a dead owner (stale locks are removed first and the
// recover.* crash points apply); otherwise called by the executor right after git failed.
// `inherit_fd`: the lock the spawned git processes must keep alive.
// `busy_refs`: refs of live transactions, whose locks are never removed as stale.
// On `blocked` (a ref lock held by a live writer) the record is left non-terminal.
Result<ReconcileOutcome> reconcile(detail::StoreState& store, TxRecord& record, bool recovering,
                                   int inherit_fd, const std::set<std::string>& busy_refs = {});

}  // namespace reftx::core
