#include "core/owners.hpp"

#include <sys/random.h>

#include "util/fs.hpp"
#include "util/hex.hpp"

namespace reftx::core {

std::string owners_dir(const std::string& journal_dir) { return journal_dir + "/owners"; }

std::string owner_path(const std::string& journal_dir, const std::string& owner_name) {
  return owners_dir(journal_dir) + "/" + owner_name + ".owner";
}

std::string recovery_lock_path(const std::string& journal_dir) {
  return journal_dir + "/recover.flock";
}

Result<util::FileLock> create_owner(const std::string& journal_dir, std::string& name_out) {
  if (Status s = util::make_dirs(owners_dir(journal_dir)); !s) return s.error();
  char raw[12];
  if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    return util::errno_error("getrandom", errno);
  }
  name_out = util::raw_to_hex(std::string_view(raw, sizeof raw));
  auto lock = util::FileLock::acquire(owner_path(journal_dir, name_out), /*wait=*/false);
  if (!lock) return lock.error();
  if (!lock.value().held()) {
    return Error{ErrorKind::environment, "owner lock '" + name_out + "' is unexpectedly held"};
  }
  return std::move(lock).value();
}

}  // namespace reftx::core
