#include "core/recovery.hpp"

#include <dirent.h>

#include <set>

#include "core/leftovers.hpp"
#include "core/owners.hpp"
#include "core/ref_files.hpp"
#include "core/steps.hpp"
#include "util/fs.hpp"

namespace reftx::core {
namespace {

// Owner files in <journal>/owners, by name without ".owner".
std::vector<std::string> list_owner_files(const std::string& journal_dir) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(owners_dir(journal_dir).c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    const std::string suffix = ".owner";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      names.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  ::closedir(dir);
  return names;
}

// Ref names of the in-flight transactions whose owner is alive right now: their lock files may
// be live git locks, so recovery never removes a lock on these names.
Result<std::set<std::string>> refs_of_live_transactions(const RecoveryScope& scope,
                                                        std::uint64_t except_id) {
  std::set<std::string> names;
  auto ids = scope.journal.inflight();
  if (!ids) return ids.error();
  for (std::uint64_t id : ids.value()) {
    if (id == except_id) continue;
    auto record = scope.journal.get(id);
    if (!record) return record.error();
    auto alive = owner_alive(scope.journal_dir, record.value().owner);
    if (!alive) return alive.error();
    if (!alive.value()) continue;
    for (const RefRecord& ref : record.value().refs) names.insert(ref.name);
  }
  return names;
}

// Removes the stale locks of `record` and fsyncs their directories (the removals must not
// reappear next to a terminal record). A lock that may be a live transaction's is left: the
// record is then blocked.
Result<std::optional<ReconcileOutcome>> clear_stale_locks(const RecoveryScope& scope,
                                                          const TxRecord& record) {
  auto busy = refs_of_live_transactions(scope, record.id);
  if (!busy) return busy.error();
  auto locks = remove_stale_locks(scope.repo, record, busy.value());
  if (!locks) return locks.error();
  if (!locks.value().deferred.empty()) {
    std::string detail = "lock files that may belong to a live transaction:";
    for (const auto& path : locks.value().deferred) detail += " " + path;
    return std::optional<ReconcileOutcome>(
        ReconcileOutcome{RecoveryAction::Kind::blocked, detail + "; run recover again"});
  }
  if (scope.files.durable) {
    std::set<std::string> dirs;
    for (const auto& path : locks.value().removed) dirs.insert(util::parent_dir(path));
    if (Status s = fsync_dirs(dirs); !s) return s.error();
  }
  return std::optional<ReconcileOutcome>{};
}

}  // namespace

Result<ReconcileOutcome> recover_one(const RecoveryScope& scope, TxRecord& record,
                                     const util::FileLock& recovery_lock) {
  auto blocked = clear_stale_locks(scope, record);
  if (!blocked) return blocked.error();
  if (blocked.value()) return *blocked.value();
  reach(Step::recover_locks_removed);
  git::UpdateRefConfig git = scope.git;
  git.inherit_fd = recovery_lock.fd();
  return reconcile(Reconciler{scope.journal, scope.repo, scope.files, git}, record);
}

Result<RecoveryReport> recover_dead_owners(const RecoveryScope& scope,
                                           const util::FileLock& recovery_lock) {
  RecoveryReport report;
  auto swept = sweep_after_reboot(scope.journal, scope.repo, scope.files.durable, current_boot());
  if (!swept) return swept.error();
  auto ids = scope.journal.inflight();
  if (!ids) return ids.error();
  std::set<std::string> still_referenced;
  for (std::uint64_t id : ids.value()) {
    auto record = scope.journal.get(id);
    if (!record) return record.error();
    TxRecord& rec = record.value();
    const bool own = rec.owner == scope.own_owner;
    auto alive = owner_alive(scope.journal_dir, rec.owner);
    if (!alive) return alive.error();
    if (alive.value() && !own) {
      ++report.skipped_live;
      still_referenced.insert(rec.owner);
      continue;
    }
    if (!own) {
      if (Status s = wait_for_owner_child(scope.journal_dir, rec.owner); !s) return s.error();
    }
    reach(Step::recover_claimed);
    auto outcome = recover_one(scope, rec, recovery_lock);
    if (!outcome)
      outcome = ReconcileOutcome{RecoveryAction::Kind::blocked, outcome.error().message};
    if (outcome.value().kind == RecoveryAction::Kind::blocked) still_referenced.insert(rec.owner);
    report.actions.push_back({outcome.value().kind, id, outcome.value().detail});
  }
  // Sweep owner files of dead owners that no in-flight record names any more.
  for (const std::string& name : list_owner_files(scope.journal_dir)) {
    if (still_referenced.count(name) || name == scope.own_owner) continue;
    remove_dead_owner(scope.journal_dir, name);
  }
  return report;
}

}  // namespace reftx::core
