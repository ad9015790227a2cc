#include "support/mixed_checks.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "reftx/store.hpp"
#include "support/git_helpers.hpp"
#include "support/text.hpp"

namespace reftx::test {
namespace {

void check_record_files(const JournalRecord& rec, const MixedPlan& plan) {
  std::vector<std::string> paths;
  for (const JournalFile& f : rec.files) paths.push_back(f.path);
  CHECK(paths == plan.paths);
  for (const JournalFile& f : rec.files) {
    if (!plan.new_blob.count(f.path)) continue;
    INFO("file ", f.path);
    REQUIRE_MESSAGE(f.old_blob.has_value(), "old content unknown in a terminal record");
    CHECK(*f.old_blob == plan.old_blob.at(f.path));
    CHECK(f.old_mode == git_mode_of(plan.before.tree, f.path));
    CHECK(f.new_blob == plan.new_blob.at(f.path));
    if (rec.state == "committed") CHECK(f.mode == git_mode_of(plan.after.tree, f.path));
  }
}

void check_record_keys(const JournalRecord& rec, const MixedPlan& plan) {
  std::vector<std::string> keys;
  for (const JournalKey& k : rec.keys) keys.push_back(k.key);
  CHECK(keys == plan.keys);
  for (const JournalKey& k : rec.keys) {
    if (!plan.new_value.count(k.key)) continue;
    INFO("key ", k.key);
    CHECK_MESSAGE(k.old_known, "old value unknown in a terminal record");
    CHECK(k.old_value == plan.old_value.at(k.key));
    CHECK(k.new_value == plan.new_value.at(k.key));
  }
}

// The work tree is all old or all new, and what it means for temp files and new directories.
Side check_work_tree_side(const RepoSnapshot& now, const MixedPlan& plan) {
  const Side side = classify_mixed(now, plan);
  CHECK_MESSAGE(side != Side::mixed, "'", plan.message,
                "' left neither all-old nor all-new:", describe_mixed_diff(now, plan));
  check_no_temp_files(now.tree);
  if (side == Side::old_values) {
    for (const std::string& dir : plan.created_dirs) {
      CHECK_MESSAGE(!now.tree.dirs.count(dir), "rolled back, but its directory is left: ", dir);
    }
  }
  return side;
}

}  // namespace

void check_no_temp_files(const WorkTree& tree) {
  std::vector<std::string> temps = temp_files(tree);
  CHECK_MESSAGE(temps.empty(), "temp files left in the work tree:", joined(temps));
}

std::vector<std::string> expected_status(const WorkTree& head, const WorkTree& now) {
  std::vector<std::string> lines;
  for (const auto& [path, image] : head.files) {
    auto it = now.files.find(path);
    if (it == now.files.end()) {
      lines.push_back(" D " + path);
    } else if (!(it->second == image)) {
      lines.push_back(" M " + path);
    }
  }
  for (const auto& [path, image] : now.files) {
    if (!head.files.count(path)) lines.push_back("?? " + path);
  }
  return lines;
}

void check_status(const TempRepo& repo, const WorkTree& head, const WorkTree& want) {
  std::vector<std::string> got = git_status(repo), expected = expected_status(head, want);
  CHECK_MESSAGE(got == expected, "git status:", joined(got), "\nexpected:", joined(expected));
}

void check_record_refs(const JournalRecord& rec, const TxPlan& refs) {
  std::set<std::string> journaled;
  for (const JournalRef& ref : rec.refs) {
    journaled.insert(ref.name);
    REQUIRE_MESSAGE(ref.old_oid.has_value(), "old value unknown in a terminal record: ", rec.raw);
    CHECK_MESSAGE(*ref.old_oid == value_of(refs.before, ref.name), ref.name, ": ", rec.raw);
    CHECK_MESSAGE(ref.new_oid == value_of(refs.after, ref.name), ref.name, ": ", rec.raw);
  }
  CHECK(journaled == changed_names(refs));
}

void check_record_files_and_keys(const TempRepo& repo, const JournalRecord& rec,
                                 const MixedPlan& plan) {
  INFO("record: ", rec.raw);
  if (plan.paths.empty()) {
    CHECK(!rec.work_tree.has_value());
  } else {
    CHECK(rec.work_tree == std::filesystem::canonical(repo.path()).string());
  }
  check_record_files(rec, plan);
  check_record_keys(rec, plan);
}

void check_recover_changes_nothing(const TempRepo& repo, const RepoSnapshot& now) {
  const std::string journal = repo.reftx({"journal", "list", "--json"}).out;
  check_second_recover_is_noop(repo);
  const RepoSnapshot after = snapshot(repo);
  CHECK_MESSAGE(after == now, "a second recovery changed the repository");
  CHECK_MESSAGE(repo.reftx({"journal", "list", "--json"}).out == journal,
                "a second recovery changed the journal");
}

MixedChecked check_mixed_recovered(const TempRepo& repo, const MixedPlan& plan,
                                   const WorkTree& head, std::optional<std::uint64_t> printed_id,
                                   bool fsck) {
  MixedChecked c;
  const RepoSnapshot now = snapshot(repo);
  c.side = check_work_tree_side(now, plan);
  check_status(repo, head, c.side == Side::new_values ? plan.after.tree : plan.before.tree);
  c.record = check_journal_agrees(repo, plan.refs, c.side);
  if (c.record) check_record_files_and_keys(repo, *c.record, plan);
  if (printed_id) check_printed_id_committed(c.record, c.side, *printed_id);
  check_no_locks(repo);
  if (fsck) check_fsck(repo);
  CHECK(repo.git({"symbolic-ref", "HEAD"}) == "refs/heads/main");
  check_recover_changes_nothing(repo, now);
  return c;
}

std::string to_string(Recovery r) {
  return r == Recovery::command      ? "reftx recover"
         : r == Recovery::next_apply ? "the next reftx apply"
                                     : "Store::open";
}

void recover_via(const TempRepo& repo, Recovery how, MixedPlan& plan) {
  switch (how) {
    case Recovery::command:
      recover_and_check(repo);
      return;
    case Recovery::next_apply: {
      RunResult r = apply_script(repo, "recovering " + plan.message,
                                 "set recovery/by " + plan.message + "\n");
      REQUIRE_MESSAGE(r.exit_code == 0, "apply after the crash: ", describe(r));
      plan.outside_key("recovery/by", plan.message);
      return;
    }
    case Recovery::store_open: {
      Result<Store> store = Store::open(repo.path());
      REQUIRE_MESSAGE(store.ok(), "Store::open after the crash: ", store.error().describe());
      return;
    }
  }
}

}  // namespace reftx::test
