#include "core/reconcile.hpp"

#include "core/steps.hpp"
#include "core/file_ops.hpp"
#include "core/ref_files.hpp"
#include "util/fs.hpp"

namespace reftx::core {
namespace {

constexpr const char* kSymbolic = "(a symbolic ref)";

// A ref turned symbolic by someone else is neither old nor new: a conflict, left alone.
Result<std::string> current_value(git::Repository& repo, const std::string& name) {
  auto value = repo.read_ref(name);
  if (!value) {
    if (value.error().kind == ErrorKind::invalid_input) return std::string(kSymbolic);
    return value.error();
  }
  return value.value().value_or(kZeroOid);
}

// git refused (it ran, and exited by itself with its locks released) as opposed to an
// environment failure (git could not run, or died) after which nothing can be concluded.
bool refused(const Error& e) {
  return e.kind == ErrorKind::conflict || e.kind == ErrorKind::locked;
}

std::string show(const std::string& oid) {
  return oid == kZeroOid ? "absent" : oid;
}

bool lock_held(const Error& e) {
  return e.kind == ErrorKind::locked;
}

// `lines` are "update <ref> <to> <from>\n": a null <to> deletes the ref.
bool deletes_a_ref(const std::string& lines) {
  return lines.find(" " + kZeroOid + " ") != std::string::npos;
}

// One git run for transaction `id`. While git holds its locks, a run that deletes refs has the
// witness of its packed-refs.lock (ref_files.hpp); it stays if git dies, for the next recovery.
Status run_update_ref(detail::StoreState& store, std::uint64_t id, const std::string& lines,
                      int inherit_fd) {
  auto git = git::UpdateRefProcess::spawn(store.git_config(inherit_fd));
  if (!git) return git.error();
  git::UpdateRefProcess& p = git.value();
  if (Status s = p.send("start\n" + lines + "prepare\n"); !s) return s;
  if (Status s = p.expect_ok("start"); !s) return s;
  if (Status s = p.expect_ok("prepare"); !s) return s;
  if (deletes_a_ref(lines)) link_packed_refs_witness(store.repo, id);
  Status s = p.send("commit\n");
  if (s) s = p.expect_ok("commit");
  if (s || p.cause() != git::GitCause::died) drop_packed_refs_witness(store.repo, id);
  return s;
}

Status save(detail::StoreState& store, TxRecord& record,
            journal::StateStep step = journal::StateStep::none) {
  record.updated_ns = util::now_ns();
  return store.journal.put(record, step);
}

}  // namespace

Result<ReconcileOutcome> reconcile(detail::StoreState& store, TxRecord& record, ReconcileMode mode,
                                   int inherit_fd, const std::set<std::string>& busy_refs) {
  const bool recovering = mode.recovery_crash_points;
  if (mode.remove_stale_locks) {
    auto locks = remove_stale_locks(store.repo, record, busy_refs);
    if (!locks) return locks.error();
    if (!locks.value().deferred.empty()) {
      std::string detail = "lock files that may belong to a live transaction:";
      for (const auto& path : locks.value().deferred) detail += " " + path;
      return ReconcileOutcome{RecoveryAction::Kind::blocked, detail + "; run recover again"};
    }
    if (store.options.durable) {  // the removals must not reappear next to a terminal record
      std::set<std::string> dirs;
      for (const auto& path : locks.value().removed) dirs.insert(util::parent_dir(path));
      if (Status s = fsync_dirs(dirs); !s) return s.error();
    }
  }
  if (recovering) reach(Step::recover_locks_removed);
  for (int pass = 0; pass < 3; ++pass) {
    std::vector<std::string> current;
    for (const RefRecord& ref : record.refs) {
      auto value = current_value(store.repo, ref.name);
      if (!value) return value.error();
      current.push_back(std::move(value).value());
    }

    if (record.state == TxState::pending) {
      // git never got `commit`: nothing was applied. Record what the refs really hold.
      for (std::size_t i = 0; i < record.refs.size(); ++i) {
        RefRecord& ref = record.refs[i];
        if (!ref.old_known) {
          ref.old_oid = current[i];
          ref.old_known = true;
          if (ref.op == RefOp::verify) ref.new_oid = current[i];
        }
      }
      if (recovering) reach(Step::recover_refs_written);
      if (Status s = discard_files(store, record); !s) return s.error();
      if (recovering) reach(Step::recover_files_written);
      record.state = TxState::aborted;
      if (record.reason.empty()) record.reason = "owner died before the commit decision";
      if (Status s = save(store, record, journal::StateStep::observe); !s) return s.error();
      return ReconcileOutcome{RecoveryAction::Kind::rolled_back, {}};
    }
    if (is_terminal(record.state)) {
      return ReconcileOutcome{record.state == TxState::committed
                                  ? RecoveryAction::Kind::rolled_forward
                                  : RecoveryAction::Kind::rolled_back,
                              {}};
    }

    const bool forward = record.state == TxState::committing;
    std::vector<std::string> lines;
    std::vector<std::string> conflicts;
    for (std::size_t i = 0; i < record.refs.size(); ++i) {
      const RefRecord& ref = record.refs[i];
      if (ref.op == RefOp::verify) continue;
      const std::string& from = forward ? ref.old_oid : ref.new_oid;
      const std::string& to = forward ? ref.new_oid : ref.old_oid;
      if (current[i] == to) continue;
      if (current[i] == from) {
        lines.push_back("update " + ref.name + " " + to + " " + from + "\n");
      } else {
        conflicts.push_back(ref.name + ": changed by another writer (expected " + show(from) +
                            " or " + show(to) + ", found " + show(current[i]) + "); left alone");
      }
    }

    if (!lines.empty()) {
      std::string all;
      for (const auto& l : lines) all += l;
      Status s = run_update_ref(store, record.id, all, inherit_fd);
      if (!s && lock_held(s.error())) {
        return ReconcileOutcome{RecoveryAction::Kind::blocked, s.error().message};
      }
      if (!s && !refused(s.error())) return s.error();  // nothing concluded: stay in flight
      if (!s && forward) {
        // git refuses to carry out the decision (e.g. a name clash appeared): compensate.
        record.state = TxState::rolling_back;
        record.reason = "commit could not complete: " + s.error().message + "; rolled back";
        if (Status saved = save(store, record); !saved) return saved.error();
        if (!recovering) reach(Step::abort_git_refused);
        continue;
      }
      if (!s) {
        // Undo one ref at a time so that one clash does not keep the others from being restored.
        for (const auto& line : lines) {
          Status one = run_update_ref(store, record.id, line, inherit_fd);
          if (!one && lock_held(one.error())) {
            return ReconcileOutcome{RecoveryAction::Kind::blocked, one.error().message};
          }
          if (!one && !refused(one.error())) return one.error();
          if (!one) conflicts.push_back("cannot restore: " + one.error().message);
        }
      }
    }
    if (recovering) reach(Step::recover_refs_written);
    auto file_conflicts = reconcile_files(store, record, forward);
    if (!file_conflicts) return file_conflicts.error();
    conflicts.insert(conflicts.end(), file_conflicts.value().begin(), file_conflicts.value().end());
    if (recovering) reach(Step::recover_files_written);
    if (store.options.durable) {
      if (Status s = sync_ref_dirs(store.repo, record, !forward); !s) return s.error();
    }
    record.state = forward ? TxState::committed : TxState::aborted;
    record.conflicts = conflicts;
    if (!forward && record.reason.empty()) record.reason = "rolled back";
    // Rolling back puts the tool state back in the same write (decided keys were applied).
    if (Status s =
            save(store, record, forward ? journal::StateStep::none : journal::StateStep::revert);
        !s) {
      return s.error();
    }
    conflicts = record.conflicts;
    ReconcileOutcome outcome;
    outcome.kind =
        forward ? RecoveryAction::Kind::rolled_forward : RecoveryAction::Kind::rolled_back;
    if (!conflicts.empty()) {
      outcome.kind = RecoveryAction::Kind::conflict;
      for (const auto& c : conflicts) {
        outcome.detail += (outcome.detail.empty() ? "" : "; ") + c;
      }
    }
    return outcome;
  }
  return Error{ErrorKind::environment,
               "transaction " + std::to_string(record.id) + " could not be reconciled"};
}

}  // namespace reftx::core
