// The working-tree side of a transaction (docs/protocol.md, "Files"). Each file of a record is
// staged as <dir>/.reftx-<id>-<index>.tmp (fsynced) after its old content has been saved as a
// durable blob, and moved into place only after the commit decision.
//
// Crash safety: every function here is idempotent and finds everything it needs in the record
// (work tree, paths, blobs, modes, created directories); none follows a symbolic link.
// REQUIRES: the caller owns the record (one Store, under its mutex, or recovery).
#pragma once

#include <string>
#include <vector>

#include <functional>

#include "git/repository.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

// Identity (FileState::identity, "" = absent) of each file as staged, by file index.
using StagedFiles = std::vector<std::string>;

// What the file steps work with: the object database that holds old and new contents, the git
// binary (to stream large packed blobs), and whether to fsync.
struct FileIo {
  git::Repository& objects;
  std::string git_executable;
  bool durable = true;
};

// Prepares every file of a pending record: creates its missing parents, saves the current
// content as a durable blob, checks expected_old, writes and fsyncs the new content to the temp
// file, and fills old_blob / old_mode / old_known / new_mode. Errors: conflict (a compare-and-
// swap failed, or the file changed while being read; names the path and line), invalid_input
// (the path became a link or directory), environment.
// `lines[i]` is file i's script line, for the errors.
Result<StagedFiles> stage_files(const FileIo& io, TxRecord& record, const std::vector<int>& lines);

// Conflict error if a file is no longer the one staged.
Status check_staged(const TxRecord& record, const StagedFiles& staged);

// After the commit decision: renames each temp over its file (or unlinks a removed file) and
// fsyncs the directories. A file that is no longer the one staged is left alone and returned
// as a conflict. `first_installed` is called right after the first file is in place.
Result<std::vector<std::string>> install_files(const FileIo& io, const TxRecord& record,
                                               const StagedFiles& staged,
                                               const std::function<void()>& first_installed);

// Recovery of a decided record: moves every file still at its old state forward (`forward`) or
// every file at its new state back, from the blobs in the object database; a file at neither is
// left alone and returned as a conflict. Removes the temp files (their directories fsynced when
// durable); rolling back also removes the directories the transaction created, if empty.
Result<std::vector<std::string>> reconcile_files(const FileIo& io, const TxRecord& record,
                                                 bool forward);

// An undecided record being aborted: records unknown old contents (hashed, not saved), removes
// the temp files and the directories the transaction created, if empty, and (durable) fsyncs
// the directories they were removed from. Nothing else changes. A file that cannot be read now
// keeps an unknown old content. Errors: environment (an fsync failed).
Status discard_files(const FileIo& io, TxRecord& record);

}  // namespace reftx::core
