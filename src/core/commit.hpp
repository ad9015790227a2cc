// The commit protocol (docs/protocol.md, "Commit, step by step"): one Batch applied all or
// nothing as a sequence of small steps — record, stage files, prepare, read old values, decide,
// commit, install files, sync, finish — each with one failure path. Before the decision a
// failure aborts the transaction; after it, the transaction is carried forward or compensated by
// reconcile(), the routine recovery uses.
//
// Thread-safety: the caller serializes commits of one Store (its mutex); several processes may
// commit to one repository at once.
#pragma once

#include <cstdint>

#include "core/git_session.hpp"
#include "core/recovery.hpp"
#include "core/validate.hpp"
#include "reftx/batch.hpp"
#include "reftx/error.hpp"

namespace reftx::core {

// What a commit works with.
struct CommitScope {
  const RecoveryScope& recovery;  // journal, repository, files, journal dir, owner name
  GitSession& git;                // the Store's long-lived git child
  const WorkTreeScope& work_tree;
  int owner_child_fd;  // the liveness lock that compensating git runs must keep alive
};

// Validates and commits `batch`. Returns its journal id once every change is applied (and
// durable, when the scope's files are). Errors: invalid_input (nothing recorded), conflict and
// locked (nothing applied; journaled as aborted once recorded), environment.
Result<std::uint64_t> commit_batch(const CommitScope& scope, const Batch& batch);

}  // namespace reftx::core
