// Crash matrix for transactions that mix refs, working-tree files and tool state. A real
// `reftx apply` SIGKILLs itself at every apply.* and abort.* crash point (alone, or followed by
// a SIGKILL of its whole process group), or a `reftx recover` at every recover.* point. Then
// recovery (`reftx recover`, the next `reftx apply`, or Store::open) must leave the refs, the
// files (bytes and executable bit) and the state keys all new or all old, in agreement with the
// journal record, with no temp file, no directory of a rolled-back transaction, no lock file,
// `git status` exactly as expected, and nothing for a second recovery to do.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/git_helpers.hpp"
#include "support/journal_json.hpp"
#include "support/kill.hpp"
#include "support/mixed_checks.hpp"
#include "support/mixed_plan.hpp"
#include "support/plan.hpp"
#include "support/reftx_cli.hpp"
#include "support/snapshot.hpp"
#include "support/text.hpp"

namespace reftx::test::crash::files {
namespace {

constexpr const char* kLayer = "refs/heads/layers/base";
constexpr const char* kReplaced = "conf/replace.txt";

// A repository whose work tree holds tracked files (HEAD, the index and the disk agree) and
// whose journal holds state keys, all set up by one committed transaction; and commits to move
// the layer refs to.
struct Fixture {
  TempRepo repo{1};
  std::vector<std::string> commits;  // commits[0]: the layer ref's first value; [3]: never used
  WorkTree head;

  Fixture() {
    for (int i = 0; i < 4; ++i) commits.push_back(repo.make_commit("layer " + std::to_string(i)));
    head = commit_initial_state(repo,
                                {{"conf/keep.txt", {"kept as is\n", false}},
                                 {kReplaced, {"replace v0\n", false}},
                                 {"conf/remove-1.txt", {"removed by generation 1\n", false}},
                                 {"conf/remove-2.txt", {"removed by generation 2\n", false}},
                                 {"bin/run.sh", {"#!/bin/sh\necho run v0\n", true}},
                                 {"bin/tool.sh", {"#!/bin/sh\necho tool v0\n", false}}},
                                {{"tool/layer", "base v0"},
                                 {"tool/staging-1", "staged: a b c"},
                                 {"tool/staging-2", "staged: d"},
                                 {"tool/keep", "k"}},
                                {"create " + std::string(kLayer) + " " + commits[0],
                                 "create refs/heads/layers/old-1 " + commits[0],
                                 "create refs/heads/layers/old-2 " + commits[0]});
  }
};

// Where a transaction fails its compare-and-swap: nowhere, on a file (while staging, before
// git is involved) or on a ref (git refuses prepare, after every file was staged).
enum class Wrong { none, file, ref };

std::string to_string(Wrong w) {
  return w == Wrong::none ? "" : w == Wrong::file ? " (wrong old blob)" : " (wrong old ref)";
}

// The mixed transaction of generation `gen` (1 or 2): deletes a ref (first, so that a git
// killed while releasing its locks has released that one's), moves the layer ref (existing,
// with its old value) and creates a new one, writes a new file in a directory that does not exist
// yet, replaces a file (with its old blob), replaces an executable one keeping its mode, replaces
// one flipping its executable bit, removes one, sets a key, unsets another and sets a new one.
MixedPlan mixed(const Fixture& f, const std::string& message, int gen, Wrong wrong = Wrong::none) {
  const TempRepo& repo = f.repo;
  const std::string g = std::to_string(gen);
  MixedPlan p = start_mixed(repo, message);
  p.delete_ref("refs/heads/layers/old-" + g);
  p.update(kLayer, f.commits[static_cast<std::size_t>(gen)],
           wrong == Wrong::ref ? f.commits[3] : value_of(p.before.refs, kLayer));
  p.create("refs/heads/layers/site-" + g, f.commits[static_cast<std::size_t>(gen)]);
  p.write(repo, "new-" + g + "/b/new.txt", "created by generation " + g + "\n", kZeroOid);
  p.write(
      repo, kReplaced, "replace v" + g + "\n",
      wrong == Wrong::file ? blob_id(repo, "not its content\n") : p.current_blob(repo, kReplaced));
  p.write(repo, "bin/run.sh", "#!/bin/sh\necho run v" + g + "\n", std::nullopt);
  const bool tool_executable = p.before.tree.files.at("bin/tool.sh").executable;
  p.write(repo, "bin/tool.sh", "#!/bin/sh\necho tool v" + g + "\n", std::nullopt,
          tool_executable ? "100644" : "100755");
  p.remove(repo, "conf/remove-" + g + ".txt", std::nullopt);
  p.set("tool/layer", "site v" + g + ", with  two  spaces");
  p.unset("tool/staging-" + g);
  p.set("tool/generation", g);
  return p;
}

// Runs the plan with REFTX_CRASH_AT=point and requires that it died of SIGKILL; `group_kill`:
// then SIGKILL its whole process group too (its git child, if still running).
void crash_apply(const TempRepo& repo, const MixedPlan& plan, const std::string& point,
                 bool group_kill) {
  RunOptions options;
  options.env = {{"REFTX_CRASH_AT", point}};
  options.new_process_group = group_kill;
  Child child = start_mixed_apply(repo, plan, options);
  if (group_kill) kill_group_once_dead(child);
  RunResult r = child.wait();
  REQUIRE_MESSAGE(r.signal == SIGKILL, "apply with REFTX_CRASH_AT=", point, " ", describe(r));
}

void crash_recover(const TempRepo& repo, const std::string& point, bool group_kill) {
  RunOptions options;
  options.env = {{"REFTX_CRASH_AT", point}};
  options.new_process_group = group_kill;
  Child child = Child::start({reftx_binary(), "-C", repo.path(), "recover"}, options);
  if (group_kill) kill_group_once_dead(child);
  RunResult r = child.wait();
  REQUIRE_MESSAGE(r.signal == SIGKILL, "recover with REFTX_CRASH_AT=", point, " ", describe(r));
}

JournalRecord record_of(const TempRepo& repo, const MixedPlan& plan) {
  std::optional<JournalRecord> rec = find_by_message(journal_list(repo), plan.message);
  REQUIRE_MESSAGE(rec.has_value(), "no journal record for '", plan.message, "'");
  return *rec;
}

// What an apply killed at a point leaves, and where recovery must take it.
struct Expectation {
  const char* state;  // of the record, before recovery
  Side outcome;
  bool wrong;  // abort.* points are reached only by a transaction whose compare-and-swap fails
  bool temps;  // temp files are in the work tree before recovery
};

const std::map<std::string, Expectation>& expectations() {
  static const std::map<std::string, Expectation> table = {
      {"apply.recorded", {"pending", Side::old_values, false, false}},
      {"apply.files-staged", {"pending", Side::old_values, false, true}},
      {"apply.queued", {"pending", Side::old_values, false, true}},
      {"apply.prepared", {"pending", Side::old_values, false, true}},
      {"apply.decided", {"committing", Side::new_values, false, true}},
      {"apply.commit-sent", {"committing", Side::new_values, false, true}},
      {"apply.git-committed", {"committing", Side::new_values, false, true}},
      {"apply.file-replaced", {"committing", Side::new_values, false, true}},
      {"apply.synced", {"committing", Side::new_values, false, false}},
      {"apply.committed", {"committed", Side::new_values, false, false}},
      {"abort.git-refused", {"pending", Side::old_values, true, true}},
      {"abort.aborted", {"aborted", Side::old_values, true, false}},
  };
  return table;
}

// Before recovery, readers see the transaction's state keys exactly when it was decided: they
// change in the LMDB commit that records the decision, and are put back in the one that
// records a roll-back.
void check_keys_before_recovery(const TempRepo& repo, const MixedPlan& plan,
                                const std::string& state) {
  const bool decided = state == "committing" || state == "rolling-back" || state == "committed";
  CHECK_MESSAGE(state_list(repo) == (decided ? plan.after.keys : plan.before.keys),
                "state keys before recovery, record ", state);
}

constexpr Recovery kRecoveries[] = {Recovery::command, Recovery::next_apply, Recovery::store_open};

TEST_CASE("mixed transaction: every apply.* and abort.* crash point recovers all-or-nothing") {
  int covered = 0, expected_cases = 0;
  for (const std::string& point : binary_crash_points()) {
    if (point.starts_with("recover.")) continue;
    auto it = expectations().find(point);
    REQUIRE_MESSAGE(it != expectations().end(), "crash point ", point,
                    " has no expectation in files_crash_test.cpp");
    const Expectation& expect = it->second;
    const std::vector<Wrong> variants = expect.wrong ? std::vector<Wrong>{Wrong::file, Wrong::ref}
                                                     : std::vector<Wrong>{Wrong::none};
    expected_cases += static_cast<int>(variants.size()) * 2 * 3;
    for (Wrong wrong : variants) {
      for (bool group_kill : {false, true}) {
        for (Recovery how : kRecoveries) {
          INFO("crash point ", point, to_string(wrong),
               std::string(group_kill ? " + process-group kill" : ""), ", recovered by ",
               to_string(how));
          Fixture f;
          MixedPlan plan = mixed(f, "mixed " + point + to_string(wrong), 1, wrong);
          crash_apply(f.repo, plan, point, group_kill);

          JournalRecord before = record_of(f.repo, plan);
          CHECK(before.state == expect.state);
          check_keys_before_recovery(f.repo, plan, before.state);
          CHECK_MESSAGE(!temp_files(snapshot_work_tree(f.repo.path())).empty() == expect.temps,
                        "temp files before recovery: expected ", expect.temps);

          recover_via(f.repo, how, plan);
          MixedChecked after = check_mixed_recovered(f.repo, plan, f.head);
          CHECK_MESSAGE(after.side == expect.outcome, "outcome ", test::to_string(after.side));
          REQUIRE(after.record.has_value());
          CHECK(after.record->id == before.id);
          if (point == "abort.aborted") {  // the failed compare-and-swap is the recorded reason
            const std::string culprit = wrong == Wrong::file ? kReplaced : kLayer;
            CHECK_MESSAGE(after.record->reason.find(culprit) != std::string::npos,
                          "reason does not name ", culprit, ": ", after.record->reason);
          }
          ++covered;
        }
      }
    }
  }
  CHECK(covered == expected_cases);
  CHECK(covered >= 12 * 6);
}

// Applies killed before recover.* points are exercised: undecided (files staged, git holding
// its locks, a compare-and-swap refused on a file or by git) and decided (before the commit,
// during it, after the first file was replaced).
const std::vector<std::pair<std::string, Wrong>> kInterruptedApplies = {
    {"apply.files-staged", Wrong::none},  {"apply.prepared", Wrong::none},
    {"apply.decided", Wrong::none},       {"apply.commit-sent", Wrong::none},
    {"apply.file-replaced", Wrong::none}, {"abort.git-refused", Wrong::file},
    {"abort.git-refused", Wrong::ref}};

TEST_CASE("mixed transaction: recovery killed at every recover.* crash point is recovered") {
  int covered = 0, recover_points = 0;
  for (const std::string& point : binary_crash_points()) {
    if (!point.starts_with("recover.")) continue;
    ++recover_points;
    for (const auto& [interrupted, wrong] : kInterruptedApplies) {
      const Expectation& expect = expectations().at(interrupted);
      for (bool group_kill : {false, true}) {
        const Recovery how = kRecoveries[covered % 3];
        INFO("apply killed at ", interrupted, to_string(wrong),
             std::string(group_kill ? " (+ group)" : ""), ", recover killed at ", point,
             ", then recovered by ", to_string(how));
        Fixture f;
        MixedPlan plan = mixed(f, "mixed " + interrupted + " / " + point, 1, wrong);
        crash_apply(f.repo, plan, interrupted, group_kill);
        JournalRecord before = record_of(f.repo, plan);
        CHECK(before.state == expect.state);

        crash_recover(f.repo, point, group_kill);
        recover_via(f.repo, how, plan);
        MixedChecked after = check_mixed_recovered(f.repo, plan, f.head);
        CHECK_MESSAGE(after.side == expect.outcome, "outcome ", test::to_string(after.side));
        REQUIRE(after.record.has_value());
        CHECK(after.record->id == before.id);
        ++covered;
      }
    }
  }
  CHECK(recover_points >= 5);
  CHECK(covered == recover_points * 2 * static_cast<int>(kInterruptedApplies.size()));
}

TEST_CASE("mixed transaction: a committed one is never lost by a later crash and recovery") {
  for (const std::string& point : binary_crash_points()) {
    INFO("later transaction killed at ", point);
    Fixture f;
    MixedPlan first = mixed(f, "committed first", 1);
    RunResult ok = apply_mixed(f.repo, first);
    REQUIRE_MESSAGE(ok.exit_code == 0, describe(ok));
    const std::optional<std::uint64_t> first_id = printed_id(ok);
    REQUIRE(first_id.has_value());
    REQUIRE(check_mixed_recovered(f.repo, first, f.head, first_id).side == Side::new_values);

    // The second changes the same ref, files and keys, and is killed.
    const bool recover_point = point.starts_with("recover.");
    const std::string apply_point = recover_point ? "apply.commit-sent" : point;
    const Expectation& expect = expectations().at(apply_point);
    MixedPlan second = mixed(f, "second " + point, 2, expect.wrong ? Wrong::file : Wrong::none);
    crash_apply(f.repo, second, apply_point, /*group_kill=*/true);
    if (recover_point) crash_recover(f.repo, point, /*group_kill=*/true);
    recover_and_check(f.repo);
    // Its "before" is the state the first one committed.
    MixedChecked after = check_mixed_recovered(f.repo, second, f.head);
    CHECK(after.side == expect.outcome);

    JournalRecord kept = journal_show(f.repo, *first_id);
    CHECK_MESSAGE(kept.state == "committed", kept.raw);
    const RepoSnapshot now = snapshot(f.repo);
    CHECK(now.refs.count("refs/heads/layers/site-1"));
    CHECK(!now.refs.count("refs/heads/layers/old-1"));
    CHECK(now.tree.files.count("new-1/b/new.txt"));
    CHECK(!now.tree.files.count("conf/remove-1.txt"));
    CHECK(!now.keys.count("tool/staging-1"));
    CHECK(now.keys.at("tool/generation") == (after.side == Side::new_values ? "2" : "1"));
  }
}

enum class OutsideChange { content, chmod, remove };

std::string to_string(OutsideChange c) {
  return c == OutsideChange::content ? "new content"
         : c == OutsideChange::chmod ? "chmod +x"
                                     : "removal";
}

void change_outside(const std::string& path, OutsideChange change) {
  switch (change) {
    case OutsideChange::content: {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out << "written by someone else\n";
      REQUIRE(out.good());
      break;
    }
    case OutsideChange::chmod:
      REQUIRE(::chmod(path.c_str(), 0755) == 0);
      break;
    case OutsideChange::remove:
      REQUIRE(::unlink(path.c_str()) == 0);
      break;
  }
}

TEST_CASE("mixed transaction: a file an outside writer changed after the crash is left alone") {
  for (const char* point :
       {"apply.files-staged", "apply.prepared", "apply.decided", "apply.commit-sent",
        "apply.git-committed", "apply.file-replaced", "apply.synced"}) {
    for (OutsideChange change :
         {OutsideChange::content, OutsideChange::chmod, OutsideChange::remove}) {
      INFO("apply killed at ", std::string(point), ", then ", to_string(change), " of ",
           std::string(kReplaced));
      Fixture f;
      MixedPlan plan = mixed(f, std::string("outside writer ") + point, 1);
      crash_apply(f.repo, plan, point, /*group_kill=*/false);
      wait_for_dead_owners(f.repo);
      const JournalRecord before = record_of(f.repo, plan);
      const bool decided = before.state == "committing";
      REQUIRE((decided || before.state == "pending"));

      change_outside(f.repo.path() + "/" + kReplaced, change);
      const WorkTree changed = snapshot_work_tree(f.repo.path());
      auto outside = changed.files.find(kReplaced);

      RunResult r = f.repo.reftx({"recover"});
      CHECK_MESSAGE(r.exit_code == 0, describe(r));
      // Everything rolled the way the record says, except the outside writer's file.
      RepoSnapshot expected = decided ? plan.after : plan.before;
      if (outside == changed.files.end()) {
        expected.tree.files.erase(kReplaced);
      } else {
        expected.tree.files[kReplaced] = outside->second;
      }
      const RepoSnapshot now = snapshot(f.repo);
      CHECK_MESSAGE(now == expected, "recovered state differs:", describe_mixed_diff(now, plan));
      check_no_temp_files(now.tree);
      check_status(f.repo, f.head, expected.tree);

      const JournalRecord rec = journal_show(f.repo, before.id);
      check_record_refs(rec, plan.refs);
      if (decided) {
        check_record_files_and_keys(f.repo, rec, plan);
      } else {
        // An undecided record keeps no staged old content: aborting it journals what each
        // file holds then, as it does for refs.
        MixedPlan journaled = plan;
        journaled.before.tree = changed;
        journaled.old_blob[kReplaced] =
            outside == changed.files.end() ? kZeroOid : blob_id(f.repo, outside->second.content);
        check_record_files_and_keys(f.repo, rec, journaled);
      }
      const std::string id = std::to_string(before.id);
      if (decided) {
        const std::string prefix = "conflict " + id + ": file " + kReplaced + ": ";
        CHECK_MESSAGE(r.out.starts_with(prefix), "recover printed: ", r.out);
        CHECK(split_lines(r.out).size() == 1);
        CHECK(rec.state == "committed");
        REQUIRE_MESSAGE(rec.conflicts.size() == 1, rec.raw);
        CHECK(rec.conflicts[0].starts_with(std::string("file ") + kReplaced + ": "));
      } else {
        // Never decided: rolled back, which writes no file; nothing to conflict with.
        CHECK(r.out == "rolled-back " + id + "\n");
        CHECK(rec.state == "aborted");
        CHECK_MESSAGE(rec.conflicts.empty(), rec.raw);
        for (const std::string& dir : plan.created_dirs) CHECK(!now.tree.dirs.count(dir));
      }
      check_no_locks(f.repo);
      check_recover_changes_nothing(f.repo, now);
    }
  }
}

// Makes git fail a decided commit, deterministically: a reference-transaction hook creates
// refs/heads/n1/sub while git holds refs/heads/n1.lock ("prepared"). git's `commit` then fails
// to create refs/heads/n1 after having applied the refs before it (docs/facts.md), and reftx must
// undo the whole transaction: refs restored, files never touched, keys put back.
void install_clash_hook(const TempRepo& repo, const std::string& commit) {
  const std::string path = repo.git_dir() + "/hooks/reference-transaction";
  std::ofstream hook(path, std::ios::trunc);
  hook
      << "#!/bin/sh\n"
         "# Outside writer: takes refs/heads/n1/sub while a transaction has refs/heads/n1 locked.\n"
         "if [ \"$1\" != prepared ]; then cat >/dev/null; exit 0; fi\n"
         "while read old new ref; do\n"
         "  if [ \"$ref\" = refs/heads/n1 ]; then git update-ref refs/heads/n1/sub "
      << commit
      << " || exit 1; fi\n"
         "done\n"
         "exit 0\n";
  hook.close();
  REQUIRE(hook.good());
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
}

// stat identity (inode, size, mode, mtime, ctime) of every file: changes whenever a file is
// written, replaced or chmodded.
std::map<std::string, std::string> identities(const TempRepo& repo, const WorkTree& tree) {
  std::map<std::string, std::string> out;
  for (const auto& [path, image] : tree.files) {
    struct stat st {};
    REQUIRE(::lstat((repo.path() + "/" + path).c_str(), &st) == 0);
    out[path] = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                std::to_string(st.st_mode) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
                std::to_string(st.st_ctim.tv_nsec);
  }
  return out;
}

struct Compensated {
  Fixture f;
  MixedPlan plan;
  std::map<std::string, std::string> identities_before;
  RunResult result;
};

// Runs the mixed transaction plus `create refs/heads/n1` with the clash hook installed; with
// REFTX_CRASH_AT=crash unless empty.
void run_failing_commit(Compensated& c, const std::string& message, const std::string& crash,
                        bool group_kill) {
  c.plan = mixed(c.f, message, 1);
  c.plan.create("refs/heads/n1", c.f.commits[2]);
  install_clash_hook(c.f.repo, c.f.commits[3]);
  c.identities_before = identities(c.f.repo, c.plan.before.tree);
  RunOptions options;
  if (!crash.empty()) options.env = {{"REFTX_CRASH_AT", crash}};
  options.new_process_group = group_kill;
  Child child = start_mixed_apply(c.f.repo, c.plan, options);
  if (group_kill) kill_group_once_dead(child);
  c.result = child.wait();
  // The hook's ref is not part of the transaction: both outcomes include it.
  REQUIRE(c.f.repo.ref("refs/heads/n1/sub") == c.f.commits[3]);
  c.plan.outside_ref("refs/heads/n1/sub", c.f.commits[3]);
}

void check_compensated(Compensated& c) {
  MixedChecked after = check_mixed_recovered(c.f.repo, c.plan, c.f.head);
  CHECK(after.side == Side::old_values);
  REQUIRE(after.record.has_value());
  CHECK(after.record->state == "aborted");
  CHECK_MESSAGE(after.record->reason.find("refs/heads/n1") != std::string::npos,
                after.record->reason);
  // Files were never installed: not one was rewritten, replaced or chmodded.
  CHECK(identities(c.f.repo, c.plan.before.tree) == c.identities_before);
}

TEST_CASE("mixed transaction: a commit git fails after prepare is undone, files untouched") {
  for (const char* crash : {"", "abort.git-refused", "abort.aborted"}) {
    for (bool group_kill : {false, true}) {
      if (*crash == '\0' && group_kill) continue;
      for (Recovery how : kRecoveries) {
        if (*crash == '\0' && how != Recovery::command) continue;
        INFO("crash at '", std::string(crash), "'", std::string(group_kill ? " + group" : ""),
             ", recovered by ", to_string(how));
        Compensated c;
        run_failing_commit(c, std::string("failing commit ") + crash, crash, group_kill);
        if (*crash == '\0') {
          CHECK_MESSAGE(c.result.exit_code == 1, describe(c.result));
          CHECK_MESSAGE(c.result.err.find("refs/heads/n1") != std::string::npos, c.result.err);
        } else {
          REQUIRE_MESSAGE(c.result.signal == SIGKILL, describe(c.result));
          const JournalRecord before = record_of(c.f.repo, c.plan);
          CHECK(before.state ==
                (std::string(crash) == "abort.git-refused" ? "rolling-back" : "aborted"));
          check_keys_before_recovery(c.f.repo, c.plan, before.state);
          recover_via(c.f.repo, how, c.plan);
        }
        check_compensated(c);
      }
    }
  }
}

TEST_CASE("mixed transaction: recovery of a rolling-back one killed at every recover.* point") {
  int covered = 0;
  for (const std::string& point : binary_crash_points()) {
    if (!point.starts_with("recover.")) continue;
    for (bool group_kill : {false, true}) {
      const Recovery how = kRecoveries[covered % 3];
      INFO("apply killed at abort.git-refused (rolling back)",
           std::string(group_kill ? " + group" : ""), ", recover killed at ", point,
           ", then recovered by ", to_string(how));
      Compensated c;
      run_failing_commit(c, "rolling back / " + point, "abort.git-refused", group_kill);
      REQUIRE_MESSAGE(c.result.signal == SIGKILL, describe(c.result));
      REQUIRE(record_of(c.f.repo, c.plan).state == "rolling-back");
      crash_recover(c.f.repo, point, group_kill);
      recover_via(c.f.repo, how, c.plan);
      check_compensated(c);
      ++covered;
    }
  }
  CHECK(covered >= 10);
}

}  // namespace
}  // namespace reftx::test::crash::files
