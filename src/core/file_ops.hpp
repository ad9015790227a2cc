// The working-tree side of a transaction (docs/protocol.md, "Files"). Each file of a record is
// staged as <dir>/.reftx-<id>-<index>.tmp (fsynced) after its old content has been saved as a
// durable blob, and moved into place only after the commit decision.
//
// Crash safety: every function here is idempotent and finds everything it needs in the record
// (work tree, paths, blobs, modes, created directories); none follows a symbolic link.
// REQUIRES: the caller serializes on the Store and owns the record.
#pragma once

#include <string>
#include <vector>

#include "core/context.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

// Identity (FileState::identity, "" = absent) of each file as staged, by file index.
using StagedFiles = std::vector<std::string>;

// Prepares every file of a pending record: creates its missing parents, saves the current
// content as a durable blob, checks expected_old, writes and fsyncs the new content to the temp
// file, and fills old_blob / old_mode / old_known / new_mode. Errors: conflict (a compare-and-
// swap failed, or the file changed while being read; names the path and line), invalid_input
// (the path became a link or directory), environment.
Result<StagedFiles> stage_files(detail::StoreState& store, TxRecord& record,
                                const std::vector<int>& lines);

// Conflict error if a file is no longer the one staged.
Status check_staged(detail::StoreState& store, const TxRecord& record, const StagedFiles& staged);

// After the commit decision: renames each temp over its file (or unlinks a removed file) and
// fsyncs the directories. A file that is no longer the one staged is left alone and returned
// as a conflict.
Result<std::vector<std::string>> install_files(detail::StoreState& store, const TxRecord& record,
                                               const StagedFiles& staged);

// Recovery of a decided record: moves every file still at its old state forward (`forward`) or
// every file at its new state back, from the blobs in the object database; a file at neither is
// left alone and returned as a conflict. Removes the temp files; rolling back also removes the
// directories the transaction created, if empty.
Result<std::vector<std::string>> reconcile_files(detail::StoreState& store, const TxRecord& record,
                                                 bool forward);

// An undecided record being aborted: records unknown old contents (hashed, not saved), removes
// the temp files and the directories the transaction created, if empty. Nothing else changes.
Status discard_files(detail::StoreState& store, TxRecord& record);

}  // namespace reftx::core
