#include "core/owners.hpp"

#include <sys/random.h>

#include "util/fs.hpp"
#include "util/hex.hpp"

namespace reftx::core {

std::string owners_dir(const std::string& journal_dir) {
  return journal_dir + "/owners";
}

std::string owner_path(const std::string& journal_dir, const std::string& owner_name) {
  return owners_dir(journal_dir) + "/" + owner_name + ".owner";
}

std::string owner_child_path(const std::string& journal_dir, const std::string& owner_name) {
  return owners_dir(journal_dir) + "/" + owner_name + ".child";
}

std::string recovery_lock_path(const std::string& journal_dir) {
  return journal_dir + "/recover.flock";
}

Result<OwnerLocks> create_owner(const std::string& journal_dir) {
  if (Status s = util::make_dirs(owners_dir(journal_dir)); !s) return s.error();
  char raw[12];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    return util::errno_error("getrandom", errno);
  }
  OwnerLocks owner;
  owner.name = util::raw_to_hex(std::string_view(raw, sizeof raw));
  for (auto [path, lock] : {std::pair{owner_path(journal_dir, owner.name), &owner.process},
                            std::pair{owner_child_path(journal_dir, owner.name), &owner.child}}) {
    auto acquired = util::FileLock::acquire(path, /*wait=*/false);
    if (!acquired) return acquired.error();
    if (!acquired.value().held()) {
      return Error{ErrorKind::environment, "owner lock '" + path + "' is unexpectedly held"};
    }
    *lock = std::move(acquired).value();
  }
  return owner;
}

Result<bool> owner_alive(const std::string& journal_dir, const std::string& owner_name) {
  auto process = util::FileLock::try_existing(owner_path(journal_dir, owner_name));
  if (!process) return process.error();
  return process.value().exists() && !process.value().held();
}

Status wait_for_owner_child(const std::string& journal_dir, const std::string& owner_name) {
  auto child = util::FileLock::wait_existing(owner_child_path(journal_dir, owner_name));
  if (!child) return child.error();
  return {};
}

void remove_dead_owner(const std::string& journal_dir, const std::string& owner_name) {
  auto process = util::FileLock::try_existing(owner_path(journal_dir, owner_name));
  if (!process || (process.value().exists() && !process.value().held())) return;
  auto child = util::FileLock::try_existing(owner_child_path(journal_dir, owner_name));
  if (!child || (child.value().exists() && !child.value().held())) return;
  child.value().remove_and_release();
  process.value().remove_and_release();
}

}  // namespace reftx::core
