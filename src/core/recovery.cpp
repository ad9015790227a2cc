#include "core/recovery.hpp"

#include <dirent.h>

#include <set>

#include "core/steps.hpp"
#include "core/owners.hpp"
#include "core/reconcile.hpp"

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
Result<std::set<std::string>> refs_of_live_transactions(detail::StoreState& store,
                                                        std::uint64_t except_id) {
  std::set<std::string> names;
  auto ids = store.journal.inflight();
  if (!ids) return ids.error();
  for (std::uint64_t id : ids.value()) {
    if (id == except_id) continue;
    auto record = store.journal.get(id);
    if (!record) return record.error();
    auto alive = owner_alive(store.journal_dir, record.value().owner);
    if (!alive) return alive.error();
    if (!alive.value()) continue;
    for (const RefRecord& ref : record.value().refs) names.insert(ref.name);
  }
  return names;
}

}  // namespace

Result<ReconcileOutcome> recover_one(detail::StoreState& store, TxRecord& record,
                                     const util::FileLock& recovery_lock,
                                     bool recovery_crash_points) {
  auto busy = refs_of_live_transactions(store, record.id);
  if (!busy) return busy.error();
  return reconcile(store, record, {true, recovery_crash_points}, recovery_lock.fd(), busy.value());
}

Result<RecoveryReport> recover_dead_owners(detail::StoreState& store,
                                           const util::FileLock& recovery_lock) {
  RecoveryReport report;
  auto ids = store.journal.inflight();
  if (!ids) return ids.error();
  std::set<std::string> still_referenced;
  for (std::uint64_t id : ids.value()) {
    auto record = store.journal.get(id);
    if (!record) return record.error();
    TxRecord& rec = record.value();
    // This Store's own records are never mid-commit here (its mutex is held): an in-flight one
    // was left by a git that died under it, and is recovered like a dead owner's.
    const bool own = rec.owner == store.owner.name;
    auto alive = owner_alive(store.journal_dir, rec.owner);
    if (!alive) return alive.error();
    if (alive.value() && !own) {
      ++report.skipped_live;
      still_referenced.insert(rec.owner);
      continue;
    }
    if (!own) {
      if (Status s = wait_for_owner_child(store.journal_dir, rec.owner); !s) return s.error();
    }
    reach(Step::recover_claimed);
    auto outcome = recover_one(store, rec, recovery_lock, /*recovery_crash_points=*/true);
    if (!outcome) {  // one record that cannot be finished must not stop the others
      outcome = ReconcileOutcome{RecoveryAction::Kind::blocked, outcome.error().message};
    }
    if (outcome.value().kind == RecoveryAction::Kind::blocked) still_referenced.insert(rec.owner);
    report.actions.push_back({outcome.value().kind, id, outcome.value().detail});
    reach(Step::recover_recorded);
  }
  // Sweep owner files of dead owners that no in-flight record names any more.
  for (const std::string& name : list_owner_files(store.journal_dir)) {
    if (still_referenced.count(name) || name == store.owner.name) continue;
    remove_dead_owner(store.journal_dir, name);
  }
  return report;
}

}  // namespace reftx::core
