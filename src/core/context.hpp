// Internal state of an open Store: the composition root that owns every collaborator. Only
// store.cpp uses it; the protocol code gets the narrow pieces it needs (CommitScope,
// RecoveryScope, FileIo, ...).
// Thread-safety: every use happens under `mutex`.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "core/git_session.hpp"
#include "core/owners.hpp"
#include "core/validate.hpp"
#include "git/repository.hpp"
#include "journal/journal.hpp"
#include "reftx/store.hpp"

namespace reftx::detail {

struct StoreState {
  std::mutex mutex;
  Options options;
  git::Repository repo;
  journal::Journal journal;
  std::string journal_dir;
  core::WorkTreeScope work_tree;
  core::OwnerLocks owner;               // held while this Store lives
  std::optional<core::GitSession> git;  // inherits owner.child; made with the owner

  // git update-ref runs on this repository, inheriting nothing.
  git::UpdateRefConfig git_config() const {
    return {options.git_executable, repo.git_dir(), options.durable, -1};
  }
};

}  // namespace reftx::detail
