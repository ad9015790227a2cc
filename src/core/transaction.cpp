// Transaction builder and the commit protocol (docs/protocol.md, "Commit").
#include <unistd.h>

#include <set>

#include "core/context.hpp"
#include "core/steps.hpp"
#include "core/file_ops.hpp"
#include "core/owners.hpp"
#include "core/reconcile.hpp"
#include "core/recovery.hpp"
#include "core/ref_files.hpp"
#include "core/validate.hpp"
#include "util/fs.hpp"

namespace reftx {
namespace {

TxRecord make_record(const detail::StoreState& store, const std::string& message,
                     const Changes& all, const std::vector<std::vector<std::string>>& created) {
  const std::vector<RefChange>& changes = all.refs;
  TxRecord rec;
  rec.state = TxState::pending;
  rec.message = message;
  rec.created_ns = rec.updated_ns = util::now_ns();
  rec.owner_pid = static_cast<std::int32_t>(::getpid());
  rec.owner = store.owner.name;
  for (const RefChange& c : changes) {
    RefRecord ref;
    ref.name = c.name;
    ref.op = c.op;
    ref.expected_old = c.expected_old;
    ref.old_oid = kZeroOid;
    ref.new_oid = c.op == RefOp::verify ? *c.expected_old : c.new_oid;
    rec.refs.push_back(std::move(ref));
  }
  if (!all.files.empty()) rec.work_tree = store.work_tree;
  for (std::size_t i = 0; i < all.files.size(); ++i) {
    const FileChange& f = all.files[i];
    FileRecord file;
    file.path = f.path;
    file.expected_old = f.expected_old;
    file.new_blob = f.new_blob;
    file.requested_mode = f.mode;
    file.created_dirs = created[i];
    rec.files.push_back(std::move(file));
  }
  for (const KeyChange& k : all.keys) {
    KeyRecord key;
    key.key = k.key;
    key.new_value = k.value;
    rec.keys.push_back(std::move(key));
  }
  return rec;
}

// Refuses a transaction that would change a file another in-flight transaction changes, unless
// that one is undecided and its owner dead (it will be rolled back and never touches the file).
// Runs inside the journal write that records the transaction: two cannot both pass.
Status admit_files(const detail::StoreState& store, const TxRecord& rec, const TxRecord& other) {
  if (rec.files.empty() || other.files.empty() || other.work_tree != rec.work_tree) return {};
  for (const FileRecord& theirs : other.files) {
    for (const FileRecord& ours : rec.files) {
      if (theirs.path != ours.path) continue;
      if (other.state == TxState::pending) {
        auto alive = core::owner_alive(store.journal_dir, other.owner);
        if (!alive) return alive.error();
        if (!alive.value()) continue;
      }
      return Error{ErrorKind::locked,
                   "file " + ours.path + " is being changed by transaction " +
                       std::to_string(other.id) +
                       (other.state == TxState::pending ? ""
                                                        : "; run `reftx recover` if its "
                                                          "process died")};
    }
  }
  return {};
}

// git deletes a ref for `delete` and for `update` to the null oid.
bool deletes_a_ref(const std::vector<RefChange>& changes) {
  for (const RefChange& c : changes) {
    if (c.op == RefOp::remove || (c.op == RefOp::update && c.new_oid == kZeroOid)) return true;
  }
  return false;
}

Status read_old_values(git::Repository& repo, TxRecord& rec) {
  for (RefRecord& ref : rec.refs) {
    auto value = repo.read_ref(ref.name);
    if (!value) return value.error();
    ref.old_oid = value.value().value_or(kZeroOid);
    ref.old_known = true;
    if (ref.op == RefOp::verify) ref.new_oid = ref.old_oid;
  }
  return {};
}

// Records the abort of a transaction git refused at prepare. Git has released its locks.
Error abort_transaction(detail::StoreState& store, TxRecord& rec, Error cause) {
  core::reach(core::Step::abort_git_refused);
  core::drop_packed_refs_witness(store.repo, rec.id);  // git has released its locks
  (void)read_old_values(store.repo, rec);  // best effort: an unreadable ref stays "unknown"
  (void)core::discard_files(store, rec);
  rec.state = TxState::aborted;
  rec.reason = cause.message;
  rec.updated_ns = util::now_ns();
  // Lazy: if a power loss undoes this write, recovery finds the record pending and aborts it.
  if (Status s =
          store.journal.put(rec, journal::StateStep::observe, journal::LmdbEnv::Commit::lazy);
      !s) {
    return s.error();
  }
  core::reach(core::Step::abort_aborted);
  cause.transaction_id = rec.id;
  if (cause.kind != ErrorKind::conflict && cause.kind != ErrorKind::locked) return cause;
  cause.message = "transaction " + std::to_string(rec.id) + " aborted: " + cause.message;
  return cause;
}

// git died without cleaning up (killed, crashed) while this Store owns `rec`: remove its stale
// locks and finish the record the way recovery would. Takes the recovery lock exclusively, so
// `window` (our shared hold on it) is released first.
Result<core::ReconcileOutcome> finish_interrupted(detail::StoreState& store, TxRecord& rec,
                                                  util::FileLock& window) {
  store.git.reset();
  window.release();
  auto lock = util::FileLock::acquire(core::recovery_lock_path(store.journal_dir), true);
  if (!lock) return lock.error();
  return core::recover_one(store, rec, lock.value(), /*recovery_crash_points=*/false);
}

// Another transaction that decided to commit but was interrupted before finishing (its owner or
// its git died) and names one of our refs: committing over it would make two transactions
// replace the same old value. Returns its id, or 0.
Result<std::uint64_t> unfinished_decision_on(const detail::StoreState& store, const TxRecord& rec) {
  auto ids = store.journal.inflight();
  if (!ids) return ids.error();
  for (std::uint64_t id : ids.value()) {
    if (id == rec.id) continue;
    auto other = store.journal.get(id);
    if (!other) return other.error();
    if (other.value().state != TxState::committing &&
        other.value().state != TxState::rolling_back) {
      continue;
    }
    for (const RefRecord& theirs : other.value().refs) {
      for (const RefRecord& ours : rec.refs) {
        if (theirs.name == ours.name) return id;
      }
    }
    for (const FileRecord& theirs : other.value().files) {
      for (const FileRecord& ours : rec.files) {
        if (theirs.path == ours.path && other.value().work_tree == rec.work_tree) return id;
      }
    }
    for (const KeyRecord& theirs : other.value().keys) {
      for (const KeyRecord& ours : rec.keys) {
        if (theirs.key == ours.key) return id;
      }
    }
  }
  return std::uint64_t{0};
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

}  // namespace

Result<std::uint64_t> Store::commit(const Batch& batch, const CommitOptions&) {
  detail::StoreState& store = *impl_;
  Changes changes_ = batch.changes();
  const std::string& message_ = batch.message();
  std::lock_guard<std::mutex> guard(store.mutex);
  if (store.options.read_only) {
    return Error{ErrorKind::invalid_input, "store was opened read-only"};
  }
  if (changes_.empty()) return Error{ErrorKind::invalid_input, "empty transaction: nothing to do"};
  if (!changes_.refs.empty()) {
    if (Status s = core::validate_changes(store.repo, changes_.refs); !s) return s.error();
  }
  auto created = core::validate_files(store, changes_.files);
  if (!created) return created.error();
  if (Status s = core::validate_keys(store, changes_.keys); !s) return s.error();
  const bool has_refs = !changes_.refs.empty();

  // Held shared from before anything is recorded until git has let go of its locks: recovery
  // (exclusive) never runs while a live transaction's git holds locks or its files are staged.
  auto window = util::FileLock::acquire(core::recovery_lock_path(store.journal_dir),
                                        /*wait=*/true, /*shared=*/true);
  if (!window) return window.error();

  TxRecord rec = make_record(store, message_, changes_, created.value());
  Status inserted = store.journal.insert(
      rec, [&](const TxRecord& other) { return admit_files(store, rec, other); });
  if (!inserted) return inserted.error();  // durable: pending
  core::reach(core::Step::apply_recorded);

  std::vector<int> file_lines;
  for (const FileChange& f : changes_.files) file_lines.push_back(f.line);
  auto staged = core::stage_files(store, rec, file_lines);
  if (!staged) return abort_transaction(store, rec, staged.error());
  core::reach(core::Step::apply_files_staged);

  std::set<std::string> dirs_to_sync;
  if (has_refs) {
    if (!store.git || !store.git->alive()) {
      auto spawned = git::UpdateRefProcess::spawn(store.git_config(store.owner.child.fd()));
      if (!spawned) return abort_transaction(store, rec, spawned.error());
      store.git = std::move(spawned).value();
    }
    git::UpdateRefProcess& git = *store.git;
    dirs_to_sync = core::plan_commit_sync(store.repo, rec);  // before git creates any
    std::string script = "start\n";
    for (const RefChange& c : changes_.refs) script += core::update_ref_line(c);
    Status s = git.send(script);
    core::reach(core::Step::apply_queued);
    if (s) s = git.send("prepare\n");
    if (s) s = git.expect_ok("start");
    if (s) s = git.expect_ok("prepare");
    if (!s) {
      if (git.cause() == git::GitCause::died) {  // its locks may be left behind
        rec.reason = s.error().message;
        auto outcome = finish_interrupted(store, rec, window.value());
        if (!outcome) return outcome.error();
        return outcome_error(rec, s.error(), true);
      }
      store.git.reset();  // never reuse a child in an unknown state
      return abort_transaction(store, rec, s.error());
    }
    if (deletes_a_ref(changes_.refs)) core::link_packed_refs_witness(store.repo, rec.id);
  } else {
    core::reach(core::Step::apply_queued);
  }
  core::reach(core::Step::apply_prepared);

  // git holds every ref lock: the values read now are the real old values.
  if (Status r = read_old_values(store.repo, rec); !r) {
    store.git.reset();  // closing stdin makes git abort and drop its locks
    return abort_transaction(store, rec, r.error());
  }
  auto unfinished = unfinished_decision_on(store, rec);
  if (!unfinished || unfinished.value() != 0) {
    store.git.reset();
    if (!unfinished) return abort_transaction(store, rec, unfinished.error());
    return abort_transaction(
        store, rec,
        Error{ErrorKind::conflict, "transaction " + std::to_string(unfinished.value()) +
                                       " decided to change the same refs, files or keys but was"
                                       " interrupted; run `reftx recover` first"});
  }
  if (Status c = core::check_staged(store, rec, staged.value()); !c) {
    store.git.reset();
    return abort_transaction(store, rec, c.error());
  }
  rec.state = TxState::committing;
  rec.updated_ns = util::now_ns();
  // Durable: the decision. The tool state changes in this same LMDB transaction.
  if (Status w = store.journal.put(rec, journal::StateStep::apply); !w) {
    store.git.reset();
    return abort_transaction(store, rec, w.error());
  }
  core::reach(core::Step::apply_decided);

  Status s;
  if (has_refs) s = store.git->send("commit\n");
  core::reach(core::Step::apply_commit_sent);
  if (s && has_refs) s = store.git->expect_ok("commit");
  if (!s) {
    // git failed part-way. If it refused (FACTS.md: a name clash can appear after prepare), it
    // released its locks: finish or undo at once. If it died, remove its locks first.
    Result<core::ReconcileOutcome> outcome = core::ReconcileOutcome{};
    const bool died = store.git->cause() == git::GitCause::died;
    if (died || !git::is_refusal(store.git->cause())) {
      outcome = finish_interrupted(store, rec, window.value());
    } else {
      store.git.reset();
      core::drop_packed_refs_witness(store.repo, rec.id);  // git released its locks
      outcome = core::reconcile(store, rec, {}, store.owner.child.fd());
    }
    if (!outcome) return outcome_error(rec, outcome.error(), died);
    if (rec.state == TxState::committed && rec.conflicts.empty()) return rec.id;
    if (rec.state == TxState::aborted) core::reach(core::Step::abort_aborted);
    return outcome_error(rec, s.error(), died);
  }
  core::drop_packed_refs_witness(store.repo, rec.id);
  window.value().release();  // git holds no lock any more
  core::reach(core::Step::apply_git_committed);
  auto file_conflicts = core::install_files(store, rec, staged.value());
  if (!file_conflicts) return outcome_error(rec, file_conflicts.error(), false);
  rec.conflicts = std::move(file_conflicts).value();
  if (store.options.durable) {
    if (Status d = core::fsync_dirs(dirs_to_sync); !d) return outcome_error(rec, d.error(), false);
  }
  core::reach(core::Step::apply_synced);
  rec.state = TxState::committed;
  rec.updated_ns = util::now_ns();
  // Lazy: refs, files and the decision are durable; if this write is lost, recovery rolls
  // forward (everything is already new) and records committed again.
  if (Status w = store.journal.put(rec, journal::LmdbEnv::Commit::lazy); !w) return w.error();
  core::reach(core::Step::apply_committed);
  if (!rec.conflicts.empty()) return outcome_error(rec, Error{}, false);
  return rec.id;
}

}  // namespace reftx
