// Transaction builder and the commit protocol (docs/protocol.md, "Commit").
#include <unistd.h>

#include "core/context.hpp"
#include "core/crash.hpp"
#include "core/reconcile.hpp"
#include "core/owners.hpp"
#include "core/recovery.hpp"
#include "core/ref_files.hpp"
#include "core/validate.hpp"
#include "util/fs.hpp"

namespace reftx {
namespace {

TxRecord make_record(const detail::StoreState& store, const std::string& message,
                     const std::vector<RefChange>& changes) {
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
  return rec;
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
  core::crash_point("abort.git-refused");
  (void)read_old_values(store.repo, rec);  // best effort: an unreadable ref stays "unknown"
  rec.state = TxState::aborted;
  rec.reason = cause.message;
  rec.updated_ns = util::now_ns();
  // Lazy: if a power loss undoes this write, recovery finds the record pending and aborts it.
  if (Status s = store.journal.put(rec, journal::LmdbEnv::Commit::lazy); !s) return s.error();
  core::crash_point("abort.aborted");
  cause.transaction_id = rec.id;
  if (cause.kind != ErrorKind::conflict) return cause;
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
    e.kind = git_died ? ErrorKind::environment : ErrorKind::conflict;
    e.message = "transaction " + id + " aborted: " + rec.reason;
  } else if (rec.state == TxState::committed) {
    e.kind = ErrorKind::environment;
    e.message = "transaction " + id + " committed, except refs another writer changed:";
    for (const auto& c : rec.conflicts) e.message += " " + c;
  } else {
    e.kind = ErrorKind::environment;
    e.message = "transaction " + id + " is not finished (" + cause.message +
                "); `reftx recover` will finish it";
  }
  return e;
}

}  // namespace

Transaction::Transaction(detail::StoreState* store, std::string message)
    : store_(store), message_(std::move(message)) {}
Transaction::Transaction(Transaction&&) noexcept = default;
Transaction& Transaction::operator=(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;

Transaction& Transaction::add(RefChange change) {
  if (change.line == 0) change.line = static_cast<int>(changes_.size()) + 1;
  changes_.push_back(std::move(change));
  return *this;
}

Transaction& Transaction::update(std::string name, std::string new_oid,
                                 std::optional<std::string> expected_old) {
  return add({RefOp::update, std::move(name), std::move(new_oid), std::move(expected_old), 0});
}

Transaction& Transaction::create(std::string name, std::string new_oid) {
  return add({RefOp::create, std::move(name), std::move(new_oid), kZeroOid, 0});
}

Transaction& Transaction::remove(std::string name, std::optional<std::string> expected_old) {
  return add({RefOp::remove, std::move(name), kZeroOid, std::move(expected_old), 0});
}

Transaction& Transaction::verify(std::string name, std::optional<std::string> expected_old) {
  return add({RefOp::verify, std::move(name), kZeroOid, std::move(expected_old), 0});
}

Result<std::uint64_t> Transaction::commit() {
  if (store_ == nullptr) return Error{ErrorKind::invalid_input, "transaction already consumed"};
  detail::StoreState& store = *store_;
  store_ = nullptr;
  std::lock_guard<std::mutex> guard(store.mutex);
  if (store.options.read_only) {
    return Error{ErrorKind::invalid_input, "store was opened read-only"};
  }
  if (Status s = core::validate_changes(store.repo, changes_); !s) return s.error();

  // Held shared from before anything is recorded until git has let go of its locks: recovery
  // (exclusive) never runs while a live transaction's git holds locks.
  auto window = util::FileLock::acquire(core::recovery_lock_path(store.journal_dir),
                                        /*wait=*/true, /*shared=*/true);
  if (!window) return window.error();

  TxRecord rec = make_record(store, message_, changes_);
  if (Status s = store.journal.insert(rec); !s) return s.error();  // durable: pending
  core::crash_point("apply.recorded");

  if (!store.git || !store.git->alive()) {
    auto spawned = git::UpdateRefProcess::spawn(store.git_config(store.owner.child.fd()));
    if (!spawned) return abort_transaction(store, rec, spawned.error());
    store.git = std::move(spawned).value();
  }
  git::UpdateRefProcess& git = *store.git;
  const auto dirs_to_sync = core::plan_commit_sync(store.repo, rec);  // before git creates any
  std::string script = "start\n";
  for (const RefChange& c : changes_) script += core::update_ref_line(c);
  Status s = git.send(script);
  core::crash_point("apply.queued");
  if (s) s = git.send("prepare\n");
  if (s) s = git.expect_ok("start");
  if (s) s = git.expect_ok("prepare");
  if (!s) {
    if (git.died_abnormally()) {  // its locks may be left behind
      rec.reason = s.error().message;
      auto outcome = finish_interrupted(store, rec, window.value());
      if (!outcome) return outcome.error();
      return outcome_error(rec, s.error(), true);
    }
    store.git.reset();  // never reuse a child in an unknown state
    return abort_transaction(store, rec, s.error());
  }
  core::crash_point("apply.prepared");

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
                                       " decided to change the same refs but was interrupted;"
                                       " run `reftx recover` first"});
  }
  rec.state = TxState::committing;
  rec.updated_ns = util::now_ns();
  if (Status w = store.journal.put(rec); !w) {  // durable: the decision
    store.git.reset();
    return abort_transaction(store, rec, w.error());
  }
  core::crash_point("apply.decided");

  s = git.send("commit\n");
  core::crash_point("apply.commit-sent");
  if (s) s = git.expect_ok("commit");
  if (!s) {
    // git failed part-way. If it refused (FACTS.md: a name clash can appear after prepare), it
    // released its locks: finish or undo at once. If it died, remove its locks first.
    Result<core::ReconcileOutcome> outcome = core::ReconcileOutcome{};
    const bool died = git.died_abnormally();
    if (died || s.error().kind != ErrorKind::conflict) {
      outcome = finish_interrupted(store, rec, window.value());
    } else {
      store.git.reset();
      outcome = core::reconcile(store, rec, {}, store.owner.child.fd());
    }
    if (!outcome) return outcome_error(rec, outcome.error(), died);
    if (rec.state == TxState::committed && rec.conflicts.empty()) return rec.id;
    if (rec.state == TxState::aborted) core::crash_point("abort.aborted");
    return outcome_error(rec, s.error(), died);
  }
  window.value().release();  // git holds no lock any more
  core::crash_point("apply.git-committed");
  if (store.options.durable) {
    if (Status d = core::fsync_dirs(dirs_to_sync); !d) return d.error();
  }
  core::crash_point("apply.synced");
  rec.state = TxState::committed;
  rec.updated_ns = util::now_ns();
  // Lazy: refs and the decision are durable; if this write is lost, recovery rolls forward
  // (every ref is already new) and records committed again.
  if (Status w = store.journal.put(rec, journal::LmdbEnv::Commit::lazy); !w) return w.error();
  core::crash_point("apply.committed");
  return rec.id;
}

}  // namespace reftx
