#include "core/reconcile.hpp"

#include "core/record_states.hpp"
#include "core/ref_files.hpp"
#include "core/steps.hpp"
#include "git/git_errors.hpp"

namespace reftx::core {
namespace {

constexpr const char* kSymbolic = "(a symbolic ref)";

std::string show(const std::string& oid) {
  return oid == kZeroOid ? "absent" : oid;
}

// What each ref of the record holds now; a ref turned symbolic by someone else is neither old
// nor new: a conflict, left alone.
Result<std::vector<std::string>> current_values(git::Repository& repo, const TxRecord& record) {
  std::vector<std::string> current;
  for (const RefRecord& ref : record.refs) {
    auto value = repo.read_ref(ref.name);
    if (!value) return value.error();
    const bool symbolic = value.value().kind == git::RefValue::Kind::symbolic;
    current.push_back(symbolic ? std::string(kSymbolic) : value.value().oid_or_zero());
  }
  return current;
}

// `lines` are "update <ref> <to> <from>\n": a null <to> deletes the ref.
bool deletes_a_ref(const std::string& lines) {
  return lines.find(" " + kZeroOid + " ") != std::string::npos;
}

// One git run for transaction `id`. While git holds its locks, a run that deletes refs has the
// witness of its packed-refs.lock (ref_files.hpp); it stays if git dies, for the next recovery.
// The error's kind follows git's cause: conflict or locked for a refusal, else environment.
Status run_update_ref(const Reconciler& with, std::uint64_t id, const std::string& lines) {
  auto git = git::UpdateRefProcess::spawn(with.git);
  if (!git) return git.error();
  git::UpdateRefProcess& p = git.value();
  Status s = p.send("start\n" + lines + "prepare\n");
  if (s) s = p.expect_ok("start");
  if (s) s = p.expect_ok("prepare");
  if (!s) return s;
  if (deletes_a_ref(lines)) link_packed_refs_witness(with.repo, id);
  s = p.send("commit\n");
  if (s) s = p.expect_ok("commit");
  if (s || p.cause() != git::GitCause::died) drop_packed_refs_witness(with.repo, id);
  return s;
}

// The compare-and-swap lines that move every ref still at its starting value; refs at neither
// value become conflicts.
struct RefMoves {
  std::vector<std::string> lines;
  std::vector<std::string> conflicts;
};

RefMoves plan_ref_moves(const TxRecord& record, const std::vector<std::string>& current,
                        bool forward) {
  RefMoves moves;
  for (std::size_t i = 0; i < record.refs.size(); ++i) {
    const RefRecord& ref = record.refs[i];
    if (ref.op == RefOp::verify) continue;
    const std::string& from = forward ? ref.old_oid : ref.new_oid;
    const std::string& to = forward ? ref.new_oid : ref.old_oid;
    if (current[i] == to) continue;
    if (current[i] == from) {
      moves.lines.push_back("update " + ref.name + " " + to + " " + from + "\n");
    } else {
      moves.conflicts.push_back(ref.name + ": changed by another writer (expected " + show(from) +
                                " or " + show(to) + ", found " + show(current[i]) +
                                "); left alone");
    }
  }
  return moves;
}

enum class RefsMoved { done, compensated, blocked };

// Rolling back: one ref at a time, so that one clash does not keep the others from being
// restored; a refused line becomes a conflict.
Result<RefsMoved> restore_one_by_one(const Reconciler& with, TxRecord& record, RefMoves& moves,
                                     std::string& blocked_detail) {
  for (const std::string& line : moves.lines) {
    Status one = run_update_ref(with, record.id, line);
    if (one) continue;
    if (one.error().kind == ErrorKind::locked) {
      blocked_detail = one.error().message;
      return RefsMoved::blocked;
    }
    if (one.error().kind != ErrorKind::conflict) return one.error();
    moves.conflicts.push_back("cannot restore: " + one.error().message);
  }
  return RefsMoved::done;
}

// Applies `moves` in one git run. git's refusal of a decided commit compensates the record.
Result<RefsMoved> move_refs(const Reconciler& with, TxRecord& record, RefMoves& moves,
                            std::string& blocked_detail) {
  if (moves.lines.empty()) return RefsMoved::done;
  std::string all;
  for (const std::string& line : moves.lines) all += line;
  Status s = run_update_ref(with, record.id, all);
  if (s) return RefsMoved::done;
  if (s.error().kind == ErrorKind::locked) {
    blocked_detail = s.error().message;
    return RefsMoved::blocked;
  }
  if (s.error().kind != ErrorKind::conflict) return s.error();  // nothing concluded
  if (record.state == TxState::committing) {
    record.reason = "commit could not complete: " + s.error().message + "; rolled back";
    if (Status saved = advance(with.journal, record, Move::compensate); !saved) {
      return saved.error();
    }
    return RefsMoved::compensated;
  }
  return restore_one_by_one(with, record, moves, blocked_detail);
}

ReconcileOutcome outcome_of(const TxRecord& record) {
  ReconcileOutcome outcome;
  const bool forward = record.state == TxState::committed;
  outcome.kind = forward ? RecoveryAction::Kind::rolled_forward : RecoveryAction::Kind::rolled_back;
  if (!record.conflicts.empty()) outcome.kind = RecoveryAction::Kind::conflict;
  for (const std::string& c : record.conflicts) {
    outcome.detail += (outcome.detail.empty() ? "" : "; ") + c;
  }
  return outcome;
}

// pending: git never got `commit`, nothing was applied. Records what the refs really hold.
Result<ReconcileOutcome> abort_undecided(const Reconciler& with, TxRecord& record,
                                         const std::vector<std::string>& current) {
  for (std::size_t i = 0; i < record.refs.size(); ++i) {
    RefRecord& ref = record.refs[i];
    if (ref.old_known) continue;
    ref.old_oid = current[i];
    ref.old_known = true;
    if (ref.op == RefOp::verify) ref.new_oid = current[i];
  }
  // The dead owner's git removed its locks by itself (EOF): make that durable first.
  if (with.files.durable) {
    if (Status s = sync_ref_dirs(with.repo, record); !s) return s.error();
  }
  reach(Step::recover_refs_written);
  if (Status s = discard_files(with.files, record); !s) return s.error();
  reach(Step::recover_files_written);
  if (record.reason.empty()) record.reason = "owner died before the commit decision";
  if (Status s = advance(with.journal, record, Move::roll_back_undecided); !s) return s.error();
  return ReconcileOutcome{RecoveryAction::Kind::rolled_back, {}};
}

// committing or rolling_back, refs done: files the same way, then the terminal record.
Result<ReconcileOutcome> finish_decided(const Reconciler& with, TxRecord& record,
                                        std::vector<std::string> conflicts) {
  const bool forward = record.state == TxState::committing;
  reach(Step::recover_refs_written);
  auto file_conflicts = reconcile_files(with.files, record, forward);
  if (!file_conflicts) return file_conflicts.error();
  conflicts.insert(conflicts.end(), file_conflicts.value().begin(), file_conflicts.value().end());
  reach(Step::recover_files_written);
  if (with.files.durable) {
    if (Status s = sync_ref_dirs(with.repo, record); !s) return s.error();
  }
  record.conflicts = std::move(conflicts);
  if (!forward && record.reason.empty()) record.reason = "rolled back";
  // Rolling back puts the tool state back in the same write (decided keys were applied).
  Status s = advance(with.journal, record, forward ? Move::roll_forward : Move::roll_back);
  if (!s) return s.error();
  return outcome_of(record);
}

}  // namespace

Result<ReconcileOutcome> reconcile(const Reconciler& with, TxRecord& record) {
  // At most: a roll forward that git refuses, then the roll back of the compensated record.
  for (int pass = 0; pass < 2; ++pass) {
    if (!in_flight(record.state)) return outcome_of(record);
    auto current = current_values(with.repo, record);
    if (!current) return current.error();
    if (record.state == TxState::pending) return abort_undecided(with, record, current.value());
    RefMoves moves = plan_ref_moves(record, current.value(), record.state == TxState::committing);
    std::string blocked;
    auto moved = move_refs(with, record, moves, blocked);
    if (!moved) return moved.error();
    if (moved.value() == RefsMoved::blocked) {
      return ReconcileOutcome{RecoveryAction::Kind::blocked, blocked};
    }
    if (moved.value() == RefsMoved::done) return finish_decided(with, record, moves.conflicts);
  }
  return Error{ErrorKind::environment,
               "transaction " + std::to_string(record.id) + " could not be reconciled"};
}

}  // namespace reftx::core
