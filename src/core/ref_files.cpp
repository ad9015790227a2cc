#include "core/ref_files.hpp"

#include <set>

#include "util/fs.hpp"

namespace reftx::core {
namespace {

constexpr std::int64_t kClockSlackNs = 1000000000;  // coarse file timestamps vs CLOCK_REALTIME

// A git run for this record may delete the ref: the transaction itself (new value absent) or
// its rollback (old value absent). While the old value is unknown (pending record), old_oid is a
// placeholder and rollback never ran git: counting it would make every ref look deleted, and
// packed-refs.new (which rightly still lists the refs that are only updated) would never be
// recognized as ours, leaving packed-refs.lock/.new stale forever.
bool deletes_something(const RefRecord& ref) {
  return ref.op != RefOp::verify &&
         (ref.new_oid == kZeroOid || (ref.old_known && ref.old_oid == kZeroOid));
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// True when `path` exists, is not older than the record and its content is one of `allowed`.
Result<bool> is_ours(const std::string& path, const TxRecord& record,
                     const std::set<std::string>& allowed) {
  auto mtime = util::mtime_ns(path);
  if (!mtime || *mtime < record.created_ns - kClockSlackNs) return false;
  auto content = util::read_file(path);
  if (!content) return content.error();
  if (!content.value()) return false;
  return allowed.count(trim(*content.value())) > 0;
}

}  // namespace

std::set<std::string> plan_commit_sync(const git::Repository& repo, const TxRecord& record) {
  std::set<std::string> dirs;
  const std::string refs_root = repo.common_dir() + "/refs";
  for (const RefRecord& ref : record.refs) {
    if (ref.op == RefOp::verify) continue;
    if (ref.new_oid == kZeroOid) dirs.insert(repo.common_dir());
    std::string dir = util::parent_dir(repo.common_dir() + "/" + ref.name);
    dirs.insert(dir);
    // Directories git creates for this ref: their creation lives in their parent.
    while (dir.size() > refs_root.size() && !util::mtime_ns(dir)) {
      dir = util::parent_dir(dir);
      dirs.insert(dir);
    }
  }
  return dirs;
}

Status fsync_dirs(const std::set<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    if (Status s = util::fsync_dir(dir); !s) return s;
  }
  return {};
}

Status sync_ref_dirs(const git::Repository& repo, const TxRecord& record, bool rolled_back) {
  std::set<std::string> dirs;
  const std::string refs_root = repo.common_dir() + "/refs";
  for (const RefRecord& ref : record.refs) {
    if (ref.op == RefOp::verify) continue;
    if ((rolled_back ? ref.old_oid : ref.new_oid) == kZeroOid) dirs.insert(repo.common_dir());
    std::string dir = util::parent_dir(repo.common_dir() + "/" + ref.name);
    while (dir.size() >= refs_root.size() && dirs.insert(dir).second) dir = util::parent_dir(dir);
  }
  return fsync_dirs(dirs);
}

Result<StaleLocks> remove_stale_locks(git::Repository& repo, const TxRecord& record,
                                      const std::set<std::string>& busy_refs) {
  StaleLocks result;
  // Removes `paths` (the last one is the lock) if every one is ours, or defers them.
  auto remove_if_ours = [&](const std::vector<std::string>& paths, bool ours,
                            bool busy) -> Status {
    if (!ours) return {};
    if (busy) {
      result.deferred.insert(result.deferred.end(), paths.begin(), paths.end());
      return {};
    }
    for (const std::string& path : paths) {
      if (Status s = util::remove_file(path); !s) return s;
      result.removed.push_back(path);
    }
    return {};
  };

  std::set<std::string> names;
  std::vector<std::string> deleted;
  for (const RefRecord& ref : record.refs) {
    names.insert(ref.name);
    std::set<std::string> allowed = {"", ref.new_oid};
    if (ref.old_known) allowed.insert(ref.old_oid);
    if (ref.expected_old) allowed.insert(*ref.expected_old);
    const std::string path = repo.common_dir() + "/" + ref.name + ".lock";
    auto ours = is_ours(path, record, allowed);
    if (!ours) return ours.error();
    if (Status s = remove_if_ours({path}, ours.value(), busy_refs.count(ref.name) > 0); !s) {
      return s.error();
    }
    if (deletes_something(ref)) deleted.push_back(ref.name);
  }

  if (auto head = repo.head_target(); head && names.count(*head)) {
    const std::string path = repo.git_dir() + "/HEAD.lock";
    auto ours = is_ours(path, record, {""});
    if (!ours) return ours.error();
    if (Status s = remove_if_ours({path}, ours.value(), !busy_refs.empty()); !s) return s.error();
  }

  if (!deleted.empty()) {
    const std::string lock = repo.common_dir() + "/packed-refs.lock";
    const std::string next = repo.common_dir() + "/packed-refs.new";
    auto next_content = util::read_file(next);
    if (!next_content) return next_content.error();
    bool next_is_ours = true;
    if (next_content.value()) {
      for (const std::string& name : deleted) {
        if (next_content.value()->find(" " + name + "\n") != std::string::npos) {
          next_is_ours = false;
        }
      }
      auto mtime = util::mtime_ns(next);
      if (!mtime || *mtime < record.created_ns - kClockSlackNs) next_is_ours = false;
    }
    auto lock_ours = is_ours(lock, record, {""});
    if (!lock_ours) return lock_ours.error();
    std::vector<std::string> paths;
    if (next_content.value()) paths.push_back(next);
    paths.push_back(lock);
    if (Status s = remove_if_ours(paths, lock_ours.value() && next_is_ours, !busy_refs.empty());
        !s) {
      return s.error();
    }
  }
  return result;
}

}  // namespace reftx::core
