// Internal state of an open Store, shared by the executor and recovery.
// Thread-safety: every use happens under `mutex`.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "core/owners.hpp"
#include "git/repository.hpp"
#include "git/update_ref_process.hpp"
#include "journal/journal.hpp"
#include "reftx/store.hpp"
#include "util/file_lock.hpp"

namespace reftx {

namespace detail {
struct StoreState {
  std::mutex mutex;
  Options options;
  git::Repository repo;
  journal::Journal journal;
  std::string journal_dir;
  std::string work_tree;     // absolute, symlinks resolved; empty: no work tree
  std::string git_dir_real;  // realpaths: no file path may lead inside these
  std::string common_dir_real;
  std::string journal_dir_real;
  core::OwnerLocks owner;  // held while this Store lives; owner.child is inherited by git
  std::optional<git::UpdateRefProcess> git;  // long-lived; respawned after git exits

  git::UpdateRefConfig git_config(int inherit_fd) const {
    return {options.git_executable, repo.git_dir(), options.durable, inherit_fd};
  }
};
}  // namespace detail

}  // namespace reftx
