// Owner liveness locks: <journal>/owners/<name>.owner, flocked by the owning Store (and its git
// child) for its whole life. "Owner dead" is decided only by taking that flock: no timeouts,
// no pid probing. Files are created and deleted only under the recovery lock
// (<journal>/recover.flock), so a live owner's file is never removed.
#pragma once

#include <string>

#include "reftx/error.hpp"
#include "util/file_lock.hpp"

namespace reftx::core {

std::string owners_dir(const std::string& journal_dir);
std::string owner_path(const std::string& journal_dir, const std::string& owner_name);
std::string recovery_lock_path(const std::string& journal_dir);

// Creates and locks a fresh owner file with a random name.
// REQUIRES: the caller holds the recovery lock.
Result<util::FileLock> create_owner(const std::string& journal_dir, std::string& name_out);

}  // namespace reftx::core
