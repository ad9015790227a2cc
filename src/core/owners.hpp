// Owner liveness locks. Each Store holds two flocks under <journal>/owners/:
//   <name>.owner  held by the Store's process only (close-on-exec): "the owner is alive";
//   <name>.child  held by the Store's process and inherited by its git child: "the owner or
//                 its git is alive". After the owner dies, git exits by itself (EOF on stdin:
//                 abort before `commit`, finish after it), which frees this lock.
// "Owner dead" is decided only by taking these flocks: no timeouts, no pid probing. Files are
// created and deleted only under the recovery lock (<journal>/recover.flock), so a live
// owner's files are never removed.
#pragma once

#include <string>

#include "reftx/error.hpp"
#include "util/file_lock.hpp"

namespace reftx::core {

struct OwnerLocks {
  std::string name;
  util::FileLock process;
  util::FileLock child;
};

std::string owners_dir(const std::string& journal_dir);
std::string owner_path(const std::string& journal_dir, const std::string& owner_name);
std::string owner_child_path(const std::string& journal_dir, const std::string& owner_name);
std::string recovery_lock_path(const std::string& journal_dir);

// Creates and locks both files of a fresh owner with a random name.
// REQUIRES: the caller holds the recovery lock.
Result<OwnerLocks> create_owner(const std::string& journal_dir);

// True while the owner's process holds its lock. Never waits.
Result<bool> owner_alive(const std::string& journal_dir, const std::string& owner_name);

// Waits until the owner's git child (if any) has exited, which git does by itself once its
// stdin is closed. REQUIRES: !owner_alive(...) (the owner's process is dead).
Status wait_for_owner_child(const std::string& journal_dir, const std::string& owner_name);

// Removes both files of a dead owner (taking its locks first; a live owner is left alone).
// REQUIRES: the caller holds the recovery lock.
void remove_dead_owner(const std::string& journal_dir, const std::string& owner_name);

}  // namespace reftx::core
