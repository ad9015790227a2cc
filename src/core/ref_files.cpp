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
  struct stat sa {
  }, sb{};
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

std::set<std::string> plan_commit_sync(git::Repository& repo, const TxRecord& record) {
  std::set<std::string> dirs;
  const std::string refs_root = repo.common_dir() + "/refs";
  const std::optional<std::string> head = repo.head_target();
  for (const RefRecord& ref : record.refs) {
    if (ref.op == RefOp::verify) continue;
    if (head && *head == ref.name) dirs.insert(repo.git_dir());  // git removed HEAD.lock
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

Status sync_ref_dirs(git::Repository& repo, const TxRecord& record) {
  std::set<std::string> dirs;
  const std::string refs_root = repo.common_dir() + "/refs";
  const std::optional<std::string> head = repo.head_target();
  for (const RefRecord& ref : record.refs) {
    if (ref.op != RefOp::verify && (ref.old_oid == kZeroOid || ref.new_oid == kZeroOid)) {
      dirs.insert(repo.common_dir());  // packed-refs, packed-refs.lock, packed-refs.new
    }
    if (head && *head == ref.name) dirs.insert(repo.git_dir());  // HEAD.lock
    std::string dir = util::parent_dir(repo.common_dir() + "/" + ref.name);
    while (dir.size() >= refs_root.size() && dirs.insert(dir).second) dir = util::parent_dir(dir);
  }
  return fsync_dirs(dirs);
}

namespace {

// Removes matching lock files (each group's lock last), or defers them when a live transaction
// could own them.
class LockRemover {
 public:
  Status remove(const std::vector<std::string>& paths, bool busy) {
    if (busy) {
      result_.deferred.insert(result_.deferred.end(), paths.begin(), paths.end());
      return {};
    }
    for (const std::string& path : paths) {
      if (Status s = util::remove_file(path); !s) return s;
      result_.removed.push_back(path);
    }
    return {};
  }
  StaleLocks take() { return std::move(result_); }

 private:
  StaleLocks result_;
};

// What the scan of the record's own ref locks found.
struct RefLockScan {
  std::set<std::string> matched;     // refs whose stale lock is ours
  std::vector<std::string> deleted;  // refs the last git run deletes
};

// The last git run for this record wrote forward (pending, committing) or backward
// (rolling_back): a lock holds the value that run was writing, or nothing (a delete, a verify,
// or a git killed between creating the lock and writing it).
Result<RefLockScan> scan_ref_locks(const git::Repository& repo, const TxRecord& record) {
  RefLockScan scan;
  const bool backward = record.state == TxState::rolling_back;
  for (const RefRecord& ref : record.refs) {
    std::string expected;
    if (ref.op == RefOp::verify) {
      if (backward) continue;
    } else if (backward) {
      if (!ref.old_known) continue;
      expected = ref.old_oid == kZeroOid ? "" : ref.old_oid;
    } else {
      expected = ref.new_oid == kZeroOid ? "" : ref.new_oid;
    }
    if (ref.op != RefOp::verify && expected.empty()) scan.deleted.push_back(ref.name);
    // git creates a lock empty and then writes it: a git killed in between leaves it empty.
    auto ours = is_ours(repo.common_dir() + "/" + ref.name + ".lock", record, {expected, ""});
    if (!ours) return ours.error();
    if (ours.value()) scan.matched.insert(ref.name);
  }
  return scan;
}

// HEAD.lock (empty) is taken with the lock of the ref HEAD points to, to log it, and released
// just after it: ours if that ref's lock was ours, or if that ref is no longer locked at all
// (a writer that holds an empty HEAD.lock always holds the target's lock too, but for the
// instant between releasing the two).
Status remove_head_lock(git::Repository& repo, const TxRecord& record, const RefLockScan& scan,
                        bool live_transactions, LockRemover& remover) {
  auto head = repo.head_target();
  if (!head) return {};
  bool names_target = false;
  for (const RefRecord& ref : record.refs) {
    names_target = names_target || (ref.name == *head && ref.op != RefOp::verify);
  }
  const bool target_unlocked = !util::mtime_ns(repo.common_dir() + "/" + *head + ".lock");
  if (!names_target || !(scan.matched.count(*head) || target_unlocked)) return {};
  const std::string path = repo.git_dir() + "/HEAD.lock";
  auto is_lock = is_ours(path, record, {""});
  if (!is_lock) return is_lock.error();
  if (!is_lock.value()) return {};
  return remover.remove({path}, live_transactions);
}

bool lists_any(const std::string& packed, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (packed.find(" " + name + "\n") != std::string::npos) return true;
  }
  return false;
}

// packed-refs.new, written after the record, no longer listing the refs the record deletes.
Result<bool> new_packed_refs_is_ours(const std::string& next, const TxRecord& record,
                                     const std::vector<std::string>& deleted,
                                     const std::optional<std::string>& content) {
  if (!content || lists_any(*content, deleted)) return false;
  auto mtime = util::mtime_ns(next);
  return mtime && *mtime >= record.created_ns - kClockSlackNs;
}

// git releases packed-refs.lock last, after it has renamed packed-refs.new over packed-refs and
// unlocked the refs: then packed-refs itself, rewritten after our (decided) record without the
// refs we delete, is the witness.
Result<bool> packed_refs_rewritten_for(const git::Repository& repo, const TxRecord& record,
                                       const std::vector<std::string>& deleted) {
  if (record.state == TxState::pending) return false;
  const std::string packed = repo.common_dir() + "/packed-refs";
  auto content = util::read_file(packed);
  if (!content) return content.error();
  auto mtime = util::mtime_ns(packed);
  if (!content.value() || !mtime || *mtime < record.created_ns - kClockSlackNs) return false;
  return !lists_any(*content.value(), deleted);
}

// packed-refs.lock (empty) and packed-refs.new belong to a git that deletes refs. Ours when
// packed-refs.new no longer lists the refs we delete, and either one of our ref locks was
// found (git takes packed-refs.lock after all the ref locks of a transaction and releases it
// after all of them, aborting or committing: a git killed while releasing them leaves some
// ref locks, not necessarily those of the deleted refs, and packed-refs.lock), or
// packed-refs.new was written after our record. A bare packed-refs.lock is ours only after a
// commit rewrote packed-refs; otherwise it could be a `git pack-refs` just started.
Status remove_packed_refs_locks(const git::Repository& repo, const TxRecord& record,
                                const RefLockScan& scan, bool live_transactions,
                                LockRemover& remover) {
  const std::string lock = repo.common_dir() + "/packed-refs.lock";
  const std::string next = repo.common_dir() + "/packed-refs.new";
  if (same_file(lock, packed_refs_witness(repo, record.id))) {
    // The very file our git created (the witness keeps its inode): ours, and so is any
    // packed-refs.new, which only the holder of the lock writes.
    std::vector<std::string> paths;
    if (util::mtime_ns(next)) paths.push_back(next);
    paths.push_back(lock);
    return remover.remove(paths, false);
  }
  if (scan.deleted.empty()) return {};
  auto next_content = util::read_file(next);
  if (!next_content) return next_content.error();
  auto next_ours = new_packed_refs_is_ours(next, record, scan.deleted, next_content.value());
  if (!next_ours) return next_ours.error();
  auto lock_ours = is_ours(lock, record, {""});
  if (!lock_ours) return lock_ours.error();
  auto rewritten = next_content.value() ? Result<bool>(false)
                                        : packed_refs_rewritten_for(repo, record, scan.deleted);
  if (!rewritten) return rewritten.error();
  const bool deleting_now = !scan.matched.empty();
  const bool witnessed =
      (deleting_now && (!next_content.value() || next_ours.value())) || rewritten.value();
  if (!lock_ours.value() || !(witnessed || next_ours.value())) return {};
  std::vector<std::string> paths;
  if (next_content.value()) paths.push_back(next);
  paths.push_back(lock);
  return remover.remove(paths, live_transactions);
}

}  // namespace

Result<StaleLocks> remove_stale_locks(git::Repository& repo, const TxRecord& record,
                                      const std::set<std::string>& busy_refs) {
  // The ref locks are removed last: they are the witnesses that HEAD.lock and packed-refs.lock
  // are ours, so a recovery killed part-way must not have removed them first.
  auto scan = scan_ref_locks(repo, record);
  if (!scan) return scan.error();
  LockRemover remover;
  const bool live = !busy_refs.empty();
  if (Status s = remove_head_lock(repo, record, scan.value(), live, remover); !s) return s.error();
  if (Status s = remove_packed_refs_locks(repo, record, scan.value(), live, remover); !s) {
    return s.error();
  }
  for (const std::string& name : scan.value().matched) {
    const std::string path = repo.common_dir() + "/" + name + ".lock";
    if (Status s = remover.remove({path}, busy_refs.count(name) > 0); !s) return s.error();
  }
  drop_packed_refs_witness(repo, record.id);
  return remover.take();
}

}  // namespace reftx::core
