// Recovery through the library API: dead owners (real SIGKILLed processes), live owners,
// foreign locks.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "core/owners.hpp"
#include "journal/journal.hpp"
#include "reftx/reftx.hpp"
#include "support/temp_repo.hpp"
#include "util/file_lock.hpp"

using namespace reftx;
using test::TempRepo;

namespace {

// Runs `reftx apply` with a crash point; REQUIREs that it was SIGKILLed there.
void crash_apply(const TempRepo& repo, const std::string& point, const std::string& script) {
  test::RunOptions options;
  options.input = script;
  options.env = {{"REFTX_CRASH_AT", point}};
  test::RunResult r = repo.reftx({"apply", "-m", point}, options);
  REQUIRE_MESSAGE(r.signal == 9, point << ": exit " << r.exit_code << " " << r.err);
}

Options no_auto_recovery() {
  Options o;
  o.recover_on_open = false;
  return o;
}

}  // namespace

TEST_CASE("opening a store rolls a decided transaction of a dead process forward") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(
      repo, "apply.decided",
      "update refs/heads/main " + c[0] + " " + c[2] + "\ncreate refs/heads/b " + c[1] + "\n");
  CHECK(repo.ref("refs/heads/main") == c[2]);  // git never got `commit`

  auto store = Store::open(repo.path());
  REQUIRE(store.ok());
  CHECK(repo.ref("refs/heads/main") == c[0]);
  CHECK(repo.ref("refs/heads/b") == c[1]);
  CHECK(repo.lock_files().empty());
  auto rec = store.value().get(1);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::committed);
}

TEST_CASE("recover() reports what it did and is idempotent") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(repo, "apply.prepared", "update refs/heads/main " + c[0] + "\n");
  auto store = Store::open(repo.path(), no_auto_recovery());
  REQUIRE(store.ok());
  auto report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].id == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_back);

  crash_apply(repo, "apply.git-committed", "update refs/heads/other " + c[1] + "\n");
  report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].id == 2);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_forward);
  CHECK(repo.ref("refs/heads/main") == c[2]);
  CHECK(repo.ref("refs/heads/other") == c[1]);
  CHECK(repo.lock_files().empty());
  auto again = store.value().recover();
  REQUIRE(again.ok());
  CHECK(again.value().actions.empty());
  auto rec = store.value().get(1);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::aborted);
  CHECK(rec.value().refs[0].old_oid == c[2]);
}

TEST_CASE("a transaction whose owner is alive is never touched") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string journal_dir = repo.git_dir() + "/reftx";
  {
    auto j = journal::Journal::open(journal_dir, false, true);
    REQUIRE(j.ok());
    TxRecord rec;
    rec.state = TxState::committing;
    rec.owner = "live-owner";
    RefRecord ref;
    ref.name = "refs/heads/main";
    ref.old_oid = c[2];
    ref.old_known = true;
    ref.new_oid = c[0];
    rec.refs.push_back(ref);
    REQUIRE(j.value().insert(rec).ok());
  }
  std::filesystem::create_directories(core::owners_dir(journal_dir));
  auto live = util::FileLock::acquire(core::owner_path(journal_dir, "live-owner"), false);
  REQUIRE(live.ok());
  REQUIRE(live.value().held());

  auto store = Store::open(repo.path(), no_auto_recovery());
  REQUIRE(store.ok());
  auto report = store.value().recover();
  REQUIRE(report.ok());
  CHECK(report.value().actions.empty());
  CHECK(report.value().skipped_live == 1);
  CHECK(repo.ref("refs/heads/main") == c[2]);
  CHECK(std::filesystem::exists(core::owner_path(journal_dir, "live-owner")));

  live.value().release();  // the owner dies
  report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_forward);
  CHECK(repo.ref("refs/heads/main") == c[0]);
  CHECK_FALSE(std::filesystem::exists(core::owner_path(journal_dir, "live-owner")));
}

TEST_CASE("locks that do not belong to the dead transaction are never removed") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(repo, "apply.prepared", "update refs/heads/main " + c[0] + "\n");
  // Another writer's locks: an unrelated ref, and foreign content on a ref of the transaction
  // would look the same to git; only the unrelated one can exist here, git's lock on main is ours.
  const std::string foreign = repo.git_dir() + "/refs/heads/unrelated.lock";
  std::ofstream(foreign) << c[1] << "\n";
  auto store = Store::open(repo.path());
  REQUIRE(store.ok());
  CHECK(std::filesystem::exists(foreign));
  CHECK_FALSE(std::filesystem::exists(repo.git_dir() + "/refs/heads/main.lock"));
  CHECK(repo.ref("refs/heads/main") == c[2]);
}

TEST_CASE("a lock with foreign content on a dead transaction's ref blocks recovery") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(repo, "apply.recorded", "update refs/heads/x " + c[0] + "\n");
  // Dead before git locked anything; meanwhile another writer holds refs/heads/x.lock.
  const std::string lock = repo.git_dir() + "/refs/heads/x.lock";
  std::ofstream(lock) << c[1] << "\n";
  auto store = Store::open(repo.path(), no_auto_recovery());
  REQUIRE(store.ok());
  auto report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_back);
  CHECK(std::filesystem::exists(lock));  // not ours: left alone
}

TEST_CASE("an outside writer's change between crash and recovery is not clobbered") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(repo, "apply.commit-sent",
              "update refs/heads/a " + c[0] + "\nupdate refs/heads/b " + c[0] + "\n");
  // Recovery waits for the orphaned git to finish the commit; someone else then moves b.
  auto store = Store::open(repo.path(), no_auto_recovery());
  REQUIRE(store.ok());
  auto report = store.value().recover();  // waits for git; finds a and b committed
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_forward);
  CHECK(repo.ref("refs/heads/a") == c[0]);
  CHECK(repo.ref("refs/heads/b") == c[0]);
  repo.git({"update-ref", "refs/heads/b", c[1]});
  report = store.value().recover();
  REQUIRE(report.ok());
  CHECK(report.value().actions.empty());  // terminal records are never revisited
  CHECK(repo.ref("refs/heads/b") == c[1]);

  crash_apply(repo, "apply.decided",
              "update refs/heads/c " + c[0] + "\nupdate refs/heads/d " + c[0] + "\n");
  repo.git({"update-ref", "refs/heads/d", c[2]});  // outside writer, after the decision
  report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::conflict);
  CHECK(report.value().actions[0].detail.find("refs/heads/d") != std::string::npos);
  CHECK(repo.ref("refs/heads/c") == c[0]);
  CHECK(repo.ref("refs/heads/d") == c[2]);
  auto rec = store.value().get(report.value().actions[0].id);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::committed);
  CHECK(rec.value().conflicts.size() == 1);
}

TEST_CASE("recovery that cannot run git leaves a decided transaction in flight, untouched") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(
      repo, "apply.decided",
      "update refs/heads/main " + c[0] + " " + c[2] + "\ncreate refs/heads/b " + c[1] + "\n");
  Options broken = no_auto_recovery();
  broken.git_executable = "/nonexistent/git";
  {
    auto store = Store::open(repo.path(), broken);
    REQUIRE(store.ok());
    auto report = store.value().recover();
    REQUIRE(report.ok());
    REQUIRE(report.value().actions.size() == 1);
    CHECK(report.value().actions[0].kind == RecoveryAction::Kind::blocked);
    auto rec = store.value().get(1);
    REQUIRE(rec.ok());
    CHECK(rec.value().state == TxState::committing);  // never "aborted" over a decision
  }
  CHECK(repo.ref("refs/heads/main") == c[2]);
  auto store = Store::open(repo.path(), no_auto_recovery());
  REQUIRE(store.ok());
  auto report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_forward);
  CHECK(repo.ref("refs/heads/main") == c[0]);
  CHECK(repo.ref("refs/heads/b") == c[1]);
}

TEST_CASE("a live store does not commit over an interrupted decision on the same refs") {
  TempRepo repo;
  const auto& c = repo.commits();
  crash_apply(repo, "apply.decided",
              "update refs/heads/a " + c[0] + "\nupdate refs/heads/b " + c[0] + "\n");
  auto store = Store::open(repo.path(), no_auto_recovery());  // a long-lived store, opened early
  REQUIRE(store.ok());
  auto id = store.value().commit(Batch().update("refs/heads/a", c[1], kZeroOid));
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().kind == ErrorKind::conflict);
  CHECK(id.error().message.find("reftx recover") != std::string::npos);
  CHECK_FALSE(repo.ref("refs/heads/a").has_value());
  auto report = store.value().recover();
  REQUIRE(report.ok());
  REQUIRE(report.value().actions.size() == 1);
  CHECK(report.value().actions[0].kind == RecoveryAction::Kind::rolled_forward);
  CHECK(repo.ref("refs/heads/a") == c[0]);
  CHECK(repo.ref("refs/heads/b") == c[0]);
}

TEST_CASE("git killed while its owner lives leaves no lock and no undecided record") {
  TempRepo repo;
  const auto& c = repo.commits();
  const std::string marker = repo.path() + "/kill-once";
  std::ofstream(marker) << "";
  const std::string hook = repo.git_dir() + "/hooks/reference-transaction";
  std::ofstream(hook) << "#!/bin/sh\nif [ \"$1\" = prepared ] && [ -f '" << marker
                      << "' ]; then rm -f '" << marker << "'; kill -9 $PPID; fi\nexit 0\n";
  std::filesystem::permissions(hook, std::filesystem::perms::owner_all);
  auto store = Store::open(repo.path());
  REQUIRE(store.ok());
  auto id = store.value().commit(
      Batch().update("refs/heads/main", c[0], c[2]).create("refs/heads/n", c[1]));
  REQUIRE_FALSE(id.ok());
  CHECK(id.error().kind == ErrorKind::environment);
  CHECK(repo.lock_files().empty());
  CHECK(repo.ref("refs/heads/main") == c[2]);
  auto rec = store.value().get(id.error().transaction_id);
  REQUIRE(rec.ok());
  CHECK(rec.value().state == TxState::aborted);
  // The store goes on with a fresh git.
  auto next = store.value().commit(Batch().update("refs/heads/main", c[0], c[2]));
  REQUIRE_MESSAGE(next.ok(), next.error().message);
  CHECK(repo.ref("refs/heads/main") == c[0]);
}
