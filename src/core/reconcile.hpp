// Drives a journaled transaction whose git process is gone to a terminal state, by comparing its
// record with the refs, files and keys as they are now (docs/protocol.md, "Recovery"):
//   pending      -> aborted (nothing was applied: git never received `commit`)
//   committing   -> refs, then files, still at old are moved to new (compare-and-swap); if git
//                   refuses for a reason other than a held lock (a name clash), the record is
//                   compensated (rolling_back) and rolled back
//   rolling_back -> refs and files at new are moved back to old -> aborted, keys put back
// A ref or file found at neither its old nor its new value was changed by a writer outside
// reftx: it is left alone and listed in record.conflicts. Idempotent: every write is a
// compare-and-swap. The same routine serves recovery and the commit path's compensation.
// REQUIRES: nobody else drives `record`, and no stale lock of it is left (remove_stale_locks).
#pragma once

#include <string>

#include "core/file_ops.hpp"
#include "git/repository.hpp"
#include "git/update_ref_process.hpp"
#include "journal/journal.hpp"
#include "reftx/error.hpp"
#include "reftx/store.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

struct ReconcileOutcome {
  RecoveryAction::Kind kind = RecoveryAction::Kind::rolled_forward;
  std::string detail;
};

// What reconcile works with. `git` configures the one-shot `git update-ref` runs; its
// inherit_fd is the lock they must keep alive while they run.
struct Reconciler {
  journal::Journal& journal;
  git::Repository& repo;
  const FileIo& files;
  git::UpdateRefConfig git;
};

// On `blocked` (a ref lock held by a live writer) the record is left non-terminal. An
// environment error (git cannot run, I/O) is returned as an error and leaves the record
// non-terminal too: only git's own refusal turns a decided commit into a rollback.
Result<ReconcileOutcome> reconcile(const Reconciler& with, TxRecord& record);

}  // namespace reftx::core
