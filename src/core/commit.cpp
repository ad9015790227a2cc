#include "core/commit.hpp"

#include <unistd.h>

#include <set>

#include "core/overlap.hpp"
#include "core/owners.hpp"
#include "core/record_states.hpp"
#include "core/ref_files.hpp"
#include "core/steps.hpp"
#include "util/fs.hpp"

namespace reftx::core {
namespace {

TxRecord make_record(const std::string& message, const Changes& all, const std::string& owner,
                     const std::string& work_tree,
                     const std::vector<std::vector<std::string>>& created) {
  TxRecord rec;
  rec.message = message;
  rec.created_ns = util::now_ns();
  rec.owner_pid = static_cast<std::int32_t>(::getpid());
  rec.owner = owner;
  for (const RefChange& c : all.refs) {
    const std::string& new_oid = c.op == RefOp::verify ? *c.expected_old : c.new_oid;
    rec.refs.push_back(RefRecord{c.name, c.op, c.expected_old, kZeroOid, false, new_oid});
  }
  if (!all.files.empty()) rec.work_tree = work_tree;
  for (std::size_t i = 0; i < all.files.size(); ++i) {
    FileRecord file;
    file.path = all.files[i].path;
    file.expected_old = all.files[i].expected_old;
    file.new_blob = all.files[i].new_blob;
    file.requested_mode = all.files[i].mode;
    file.created_dirs = created[i];
    rec.files.push_back(std::move(file));
  }
  for (const KeyChange& k : all.keys) rec.keys.push_back(KeyRecord{k.key, {}, false, k.value});
  return rec;
}

// git deletes a ref for `delete` and for `update` to the null oid.
bool deletes_a_ref(const std::vector<RefChange>& changes) {
  for (const RefChange& c : changes) {
    if (c.op == RefOp::remove || (c.op == RefOp::update && c.new_oid == kZeroOid)) return true;
  }
  return false;
}

Status read_old_refs(git::Repository& repo, TxRecord& rec) {
  for (RefRecord& ref : rec.refs) {
    auto value = repo.read_ref(ref.name);
    if (!value) return value.error();
    if (value.value().kind == git::RefValue::Kind::symbolic) {
      return Error{ErrorKind::invalid_input, "'" + ref.name + "' is a symbolic ref"};
    }
    ref.old_oid = value.value().oid_or_zero();
    ref.old_known = true;
    if (ref.op == RefOp::verify) ref.new_oid = ref.old_oid;
  }
  return {};
}

// The error a caller gets for a record the commit path could not finish cleanly.
// `git_died`: git was killed rather than refusing; an abort then is an environment failure.
Error outcome_error(const TxRecord& rec, const Error& cause, bool git_died) {
  Error e = cause;
  e.transaction_id = rec.id;
  const std::string id = std::to_string(rec.id);
  if (rec.state == TxState::aborted) {  // nothing applied
    e.kind = git_died ? ErrorKind::environment
                      : (cause.kind == ErrorKind::locked ? ErrorKind::locked : ErrorKind::conflict);
    e.message = "transaction " + id + " aborted: " + rec.reason;
  } else if (rec.state == TxState::committed) {
    e.kind = ErrorKind::environment;
    e.message = "transaction " + id + " committed, except what another writer changed:";
    for (const auto& c : rec.conflicts) e.message += " " + c;
  } else {
    e.kind = ErrorKind::environment;
    e.message = "transaction " + id + " is not finished (" + cause.message +
                "); `reftx recover` will finish it";
  }
  return e;
}

// One run of the protocol for one batch. Each step returns its failure; run() routes it to the
// one failure path of its phase.
class CommitRun {
 public:
  CommitRun(const CommitScope& scope, const Batch& batch)
      : scope_(scope),
        journal_(scope.recovery.journal),
        repo_(scope.recovery.repo),
        changes_(batch.changes()),
        message_(batch.message()) {}

  Result<std::uint64_t> run();

 private:
  using StepFn = Status (CommitRun::*)();
  Status validate();
  Status record();
  Status stage_files();
  Status prepare_refs();
  Status read_old_values();
  Status check_unfinished();
  Status check_files();
  Status decide();
  Status commit_refs();
  Status install_files();
  Status sync();
  Status finish();

  Error abort(Error cause);
  Result<std::uint64_t> settle(const Error& cause);
  Result<ReconcileOutcome> recover_here();
  Error aborted_error(Error cause) const;

  const CommitScope& scope_;
  journal::Journal& journal_;
  git::Repository& repo_;
  Changes changes_;
  std::string message_;
  std::vector<std::vector<std::string>> created_dirs_;
  TxRecord record_;
  StagedFiles staged_;
  std::set<std::string> dirs_to_sync_;
  util::FileLock window_;    // the recovery lock, shared, while git may hold locks for us
  bool git_failed_ = false;  // git failed before the decision: its cause says how
};

Result<std::uint64_t> CommitRun::run() {
  if (Status s = validate(); !s) return s.error();
  if (Status s = record(); !s) return s.error();
  for (StepFn step :
       {&CommitRun::stage_files, &CommitRun::prepare_refs, &CommitRun::read_old_values,
        &CommitRun::check_unfinished, &CommitRun::check_files, &CommitRun::decide}) {
    if (Status s = (this->*step)(); !s) return abort(s.error());
  }
  if (Status s = commit_refs(); !s) return settle(s.error());
  for (StepFn step : {&CommitRun::install_files, &CommitRun::sync}) {
    if (Status s = (this->*step)(); !s) return outcome_error(record_, s.error(), false);
  }
  if (Status s = finish(); !s) return s.error();
  if (!record_.conflicts.empty()) return outcome_error(record_, Error{}, false);
  return record_.id;
}

// Nothing is recorded or locked yet.
Status CommitRun::validate() {
  if (changes_.empty()) return Error{ErrorKind::invalid_input, "empty transaction: nothing to do"};
  if (Status s = validate_message(message_); !s) return s;
  if (!changes_.refs.empty()) {
    if (Status s = validate_changes(repo_, changes_.refs); !s) return s;
  }
  auto created = validate_files(repo_, scope_.work_tree, changes_.files);
  if (!created) return created.error();
  created_dirs_ = std::move(created).value();
  return validate_keys(journal_.max_key_size(), changes_.keys);
}

// Held shared from before anything is recorded until git has let go of its locks: recovery
// (exclusive) never runs while a live transaction's git holds locks or its files are staged.
// The pending record claims the files (admit_files) in its own LMDB write.
Status CommitRun::record() {
  auto window = util::FileLock::acquire(recovery_lock_path(scope_.recovery.journal_dir),
                                        /*wait=*/true, /*shared=*/true);
  if (!window) return window.error();
  window_ = std::move(window).value();
  record_ = make_record(message_, changes_, scope_.recovery.own_owner, scope_.work_tree.root,
                        created_dirs_);
  const std::string& journal_dir = scope_.recovery.journal_dir;
  return record_new(journal_, record_, [&](const TxRecord& other) {
    return admit_files(journal_dir, record_, other);
  });
}

Status CommitRun::stage_files() {
  std::vector<int> lines;
  for (const FileChange& f : changes_.files) lines.push_back(f.line);
  auto staged = core::stage_files(scope_.recovery.files, record_, lines);
  if (!staged) return staged.error();
  staged_ = std::move(staged).value();
  reach(Step::apply_files_staged);
  return {};
}

// git takes every ref lock. A transaction without refs never starts git, but passes the same
// steps.
Status CommitRun::prepare_refs() {
  if (changes_.refs.empty()) {
    reach(Step::apply_queued);
    reach(Step::apply_prepared);
    return {};
  }
  dirs_to_sync_ = plan_commit_sync(repo_, record_);  // before git creates any
  std::string lines;
  for (const RefChange& c : changes_.refs) lines += update_ref_line(c);
  git_failed_ = true;  // until prepare: ok
  if (Status s = scope_.git.start(lines); !s) return s;
  reach(Step::apply_queued);
  if (Status s = scope_.git.prepare(); !s) return s;
  git_failed_ = false;
  if (deletes_a_ref(changes_.refs)) link_packed_refs_witness(repo_, record_.id);
  reach(Step::apply_prepared);
  return {};
}

// git holds every ref lock: the values read now are the real old values.
Status CommitRun::read_old_values() {
  return read_old_refs(repo_, record_);
}

Status CommitRun::check_unfinished() {
  auto unfinished = unfinished_decision_on(journal_, record_);
  if (!unfinished) return unfinished.error();
  if (unfinished.value() == 0) return {};
  return Error{ErrorKind::conflict, "transaction " + std::to_string(unfinished.value()) +
                                        " decided to change the same refs, files or keys but was"
                                        " interrupted; run `reftx recover` first"};
}

Status CommitRun::check_files() {
  return check_staged(record_, staged_);
}

// Durable: the decision. The tool state changes in this same LMDB transaction.
Status CommitRun::decide() {
  return advance(journal_, record_, Move::decide);
}

Status CommitRun::commit_refs() {
  const bool has_refs = !changes_.refs.empty();
  if (has_refs) {
    if (Status s = scope_.git.send_commit(); !s) return s;
  }
  reach(Step::apply_commit_sent);
  if (has_refs) {
    if (Status s = scope_.git.await_commit(); !s) return s;
  }
  drop_packed_refs_witness(repo_, record_.id);
  window_.release();  // git holds no lock any more
  reach(Step::apply_git_committed);
  return {};
}

Status CommitRun::install_files() {
  auto conflicts = core::install_files(scope_.recovery.files, record_, staged_,
                                       [] { reach(Step::apply_file_replaced); });
  if (!conflicts) return conflicts.error();
  if (record_.files.empty()) reach(Step::apply_file_replaced);  // every commit reaches it
  record_.conflicts = std::move(conflicts).value();
  return {};
}

Status CommitRun::sync() {
  if (scope_.recovery.files.durable) {
    if (Status s = fsync_dirs(dirs_to_sync_); !s) return s;
  }
  reach(Step::apply_synced);
  return {};
}

// Lazy: refs, files and the decision are durable; if this write is lost, recovery rolls
// forward (everything is already new) and records committed again.
Status CommitRun::finish() {
  return advance(journal_, record_, Move::finish);
}

// The failure path before the decision: nothing of the transaction is applied. git aborts the
// open transaction and releases its locks; the record becomes aborted. If git died instead, its
// locks may be left behind, and recovery's routine finishes the record.
Error CommitRun::abort(Error cause) {
  if (git_failed_ && scope_.git.cause() == git::GitCause::died) {
    record_.reason = cause.message;
    auto outcome = recover_here();
    if (!outcome) return outcome.error();
    return outcome_error(record_, cause, true);
  }
  scope_.git.abort();
  reach(Step::abort_git_refused);
  drop_packed_refs_witness(repo_, record_.id);  // git has released its locks
  (void)read_old_refs(repo_, record_);          // best effort: unreadable stays unknown
  // Durable before the terminal record: git's removed locks and our removed temps.
  if (scope_.recovery.files.durable && !changes_.refs.empty()) {
    if (Status s = sync_ref_dirs(repo_, record_); !s) return s.error();
  }
  if (Status s = discard_files(scope_.recovery.files, record_); !s) return s.error();
  record_.reason = cause.message;
  // Lazy: if a power loss undoes this write, recovery finds the record pending and aborts it.
  if (Status s = advance(journal_, record_, Move::abort); !s) return s.error();
  return aborted_error(std::move(cause));
}

// The failure path after the decision: git did not confirm the commit. If it refused (a name
// clash can appear after prepare, docs/facts.md), it has released its locks, and the record is
// reconciled at once: refs still at old are moved forward or, if git refuses again, the record
// is compensated and rolled back. If git died or failed otherwise, its locks may be left:
// recovery's routine runs.
Result<std::uint64_t> CommitRun::settle(const Error& cause) {
  const git::GitCause why = scope_.git.cause();
  const bool died = why == git::GitCause::died;
  Result<ReconcileOutcome> outcome = ReconcileOutcome{};
  if (!git::is_refusal(why)) {
    outcome = recover_here();
  } else {
    drop_packed_refs_witness(repo_, record_.id);
    git::UpdateRefConfig git = scope_.recovery.git;
    git.inherit_fd = scope_.owner_child_fd;
    outcome = reconcile(Reconciler{journal_, repo_, scope_.recovery.files, git}, record_);
  }
  if (!outcome) return outcome_error(record_, outcome.error(), died);
  if (record_.state == TxState::committed && record_.conflicts.empty()) return record_.id;
  if (record_.state == TxState::aborted) reach(Step::abort_aborted);
  return outcome_error(record_, cause, died);
}

// git died (or failed unexpectedly) while this Store owns the record: its locks may be stale.
// The shared hold on the recovery lock becomes exclusive — not atomically, but a recovery that
// slips in between finds this owner alive and leaves the record and its refs alone — and the
// record is finished the way recovery finishes one.
Result<ReconcileOutcome> CommitRun::recover_here() {
  scope_.git.abort();
  if (Status s = window_.make_exclusive(); !s) return s.error();
  return recover_one(scope_.recovery, record_, window_);
}

// The caller's error for an aborted record: says whether it was stale data or a held lock.
Error CommitRun::aborted_error(Error cause) const {
  cause.transaction_id = record_.id;
  const std::string prefix = "transaction " + std::to_string(record_.id) + " aborted: ";
  if (cause.kind == ErrorKind::locked) {
    cause.message = prefix + "locked by another writer, retry later: " + cause.message;
  } else if (cause.kind == ErrorKind::conflict) {
    cause.message = prefix + cause.message;
  }
  return cause;
}

}  // namespace

Result<std::uint64_t> commit_batch(const CommitScope& scope, const Batch& batch) {
  return CommitRun(scope, batch).run();
}

}  // namespace reftx::core
