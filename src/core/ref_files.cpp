#include "core/ref_files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "util/fs.hpp"

namespace reftx::core {
namespace {

constexpr std::int64_t kClockSlackNs = 1000000000;  // coarse file timestamps vs CLOCK_REALTIME

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

std::string packed_refs_witness(const git::Repository& repo, std::uint64_t id) {
  return repo.common_dir() + "/reftx-" + std::to_string(id) + ".packed-refs-witness";
}

// Both paths name the same file (inode).
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::lstat(a.c_str(), &sa) == 0 && ::lstat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

void link_packed_refs_witness(const git::Repository& repo, std::uint64_t id) {
  const std::string witness = packed_refs_witness(repo, id);
  (void)::unlink(witness.c_str());  // left by an earlier run of the same transaction
  (void)::link((repo.common_dir() + "/packed-refs.lock").c_str(), witness.c_str());
}

void drop_packed_refs_witness(const git::Repository& repo, std::uint64_t id) {
  (void)::unlink(packed_refs_witness(repo, id).c_str());
}

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
  // Removes `paths` (the lock last) if they are ours, or defers them when a live transaction
  // could own them.
  auto remove = [&](const std::vector<std::string>& paths, bool busy) -> Status {
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

  // The last git run for this record wrote forward (pending, committing) or backward
  // (rolling_back): a lock holds the value that run was writing, or nothing (a delete, a verify,
  // or a git killed between creating the lock and writing it).
  // The ref locks are removed last: they are the witnesses that HEAD.lock and packed-refs.lock
  // are ours, so a recovery killed part-way must not have removed them first.
  const bool backward = record.state == TxState::rolling_back;
  std::set<std::string> matched;     // refs whose stale lock was found in this pass
  std::vector<std::string> deleted;  // refs the last git run deletes
  for (const RefRecord& ref : record.refs) {
    std::string expected;
    if (ref.op == RefOp::verify) {
      if (backward) continue;
      expected = "";
    } else if (backward) {
      if (!ref.old_known) continue;
      expected = ref.old_oid == kZeroOid ? "" : ref.old_oid;
    } else {
      expected = ref.new_oid == kZeroOid ? "" : ref.new_oid;
    }
    if (ref.op != RefOp::verify && expected.empty()) deleted.push_back(ref.name);
    const std::string path = repo.common_dir() + "/" + ref.name + ".lock";
    // git creates a lock empty and then writes it: a git killed in between leaves it empty.
    auto ours = is_ours(path, record, {expected, ""});
    if (!ours) return ours.error();
    if (!ours.value()) continue;
    matched.insert(ref.name);
  }

  // HEAD.lock (empty) is taken with the lock of the ref HEAD points to, to log it, and released
  // just after it: ours if that ref's lock was ours, or if that ref is no longer locked at all
  // (a writer that holds an empty HEAD.lock always holds the target's lock too, but for the
  // instant between releasing the two).
  if (auto head = repo.head_target(); head) {
    bool names_target = false;
    for (const RefRecord& ref : record.refs) {
      names_target = names_target || (ref.name == *head && ref.op != RefOp::verify);
    }
    const bool target_unlocked = !util::mtime_ns(repo.common_dir() + "/" + *head + ".lock");
    if (names_target && (matched.count(*head) || target_unlocked)) {
      const std::string path = repo.git_dir() + "/HEAD.lock";
      auto is_lock = is_ours(path, record, {""});
      if (!is_lock) return is_lock.error();
      if (is_lock.value()) {
        if (Status s = remove({path}, !busy_refs.empty()); !s) return s.error();
      }
    }
  }

  // packed-refs.lock (empty) and packed-refs.new belong to a git that deletes refs. Ours when
  // packed-refs.new no longer lists the refs we delete, and either one of our ref locks was
  // found (git takes packed-refs.lock after all the ref locks of a transaction and releases it
  // after all of them, aborting or committing: a git killed while releasing them leaves some
  // ref locks, not necessarily those of the deleted refs, and packed-refs.lock), or
  // packed-refs.new was written after our record. A bare packed-refs.lock is ours only after a
  // commit rewrote packed-refs (below); otherwise it could be a `git pack-refs` just started.
  const std::string lock = repo.common_dir() + "/packed-refs.lock";
  const std::string next = repo.common_dir() + "/packed-refs.new";
  if (same_file(lock, packed_refs_witness(repo, record.id))) {
    // The very file our git created (the witness keeps its inode): ours, and so is any
    // packed-refs.new, which only the holder of the lock writes.
    std::vector<std::string> paths;
    if (util::mtime_ns(next)) paths.push_back(next);
    paths.push_back(lock);
    if (Status s = remove(paths, false); !s) return s.error();
  } else if (!deleted.empty()) {
    const bool deleting_now = !matched.empty();
    auto next_content = util::read_file(next);
    if (!next_content) return next_content.error();
    bool next_is_ours = next_content.value().has_value();
    if (next_is_ours) {
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
    // git releases packed-refs.lock last, after it has renamed packed-refs.new over packed-refs
    // and unlocked the refs: then packed-refs itself, rewritten after our record without the
    // refs we delete, is the witness.
    bool rewritten_for_us = false;
    if (record.state != TxState::pending && !next_content.value()) {
      const std::string packed = repo.common_dir() + "/packed-refs";
      auto packed_content = util::read_file(packed);
      if (!packed_content) return packed_content.error();
      auto mtime = util::mtime_ns(packed);
      rewritten_for_us =
          packed_content.value() && mtime && *mtime >= record.created_ns - kClockSlackNs;
      for (const std::string& name : deleted) {
        if (rewritten_for_us &&
            packed_content.value()->find(" " + name + "\n") != std::string::npos) {
          rewritten_for_us = false;
        }
      }
    }
    const bool witnessed =
        (deleting_now && (!next_content.value() || next_is_ours)) || rewritten_for_us;
    if (lock_ours.value() && (witnessed || next_is_ours)) {
      std::vector<std::string> paths;
      if (next_content.value()) paths.push_back(next);
      paths.push_back(lock);
      if (Status s = remove(paths, !busy_refs.empty()); !s) return s.error();
    }
  }

  for (const std::string& name : matched) {
    const std::string path = repo.common_dir() + "/" + name + ".lock";
    if (Status s = remove({path}, busy_refs.count(name) > 0); !s) return s.error();
  }
  drop_packed_refs_witness(repo, record.id);
  return result;
}

}  // namespace reftx::core
