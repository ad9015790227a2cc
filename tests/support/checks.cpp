#include "support/checks.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <set>

#include "support/text.hpp"

namespace reftx::test {
namespace {

// committed <=> all new, aborted (with a reason) <=> all old, no conflicts.
void check_state_agrees(const JournalRecord& rec, Side side) {
  if (rec.state == "committed") {
    CHECK_MESSAGE(side == Side::new_values, "journal says committed but refs are ", to_string(side),
                  ": ", rec.raw);
  } else if (rec.state == "aborted") {
    CHECK_MESSAGE(side == Side::old_values, "journal says aborted but refs are ", to_string(side),
                  ": ", rec.raw);
    CHECK_MESSAGE(!rec.reason.empty(), "aborted record without a reason: ", rec.raw);
  }
  CHECK_MESSAGE(rec.conflicts.empty(), "unexpected conflicts: ", rec.raw);
}

// What the record says was changed is exactly what the plan changes, with the real old values.
void check_refs_journaled(const JournalRecord& rec, const TxPlan& plan) {
  std::set<std::string> journaled;
  for (const JournalRef& ref : rec.refs) {
    journaled.insert(ref.name);
    REQUIRE_MESSAGE(ref.old_oid.has_value(), "old value unknown in a terminal record: ", rec.raw);
    CHECK_MESSAGE(*ref.old_oid == value_of(plan.before, ref.name), "journaled old of ", ref.name,
                  " wrong: ", rec.raw);
    CHECK_MESSAGE(ref.new_oid == value_of(plan.after, ref.name), "journaled new of ", ref.name,
                  " wrong: ", rec.raw);
  }
  // Every ref the plan creates, moves or deletes is journaled.
  for (const RefMap* side : {&plan.after, &plan.before}) {
    for (const auto& [name, oid] : *side) {
      if (value_of(plan.before, name) != value_of(plan.after, name)) {
        CHECK_MESSAGE(journaled.count(name), name);
      }
    }
  }
  std::map<std::string, std::string> verified(rec.verified.begin(), rec.verified.end());
  CHECK(verified == plan.verified);
}

// `expected` moved by the refs the plan changes, if it was applied.
void apply_to(RefMap& expected, const TxPlan& plan) {
  for (const std::string& name : changed_names(plan)) {
    if (value_of(plan.after, name) == kZeroOid) {
      expected.erase(name);
    } else {
      expected[name] = plan.after.at(name);
    }
  }
}

Checked check_one_recovered(const TempRepo& repo, const RefMap& now, const Interrupted& tx) {
  const TxPlan& plan = *tx.plan;
  Checked c;
  c.side = classify_subset(now, plan);
  CHECK_MESSAGE(c.side != Side::mixed, "'", plan.message,
                "' left a mix of old and new refs:", describe_diff(now, plan));
  c.record = check_journal_agrees(repo, plan, c.side);
  if (tx.printed_id) check_printed_id_committed(c.record, c.side, *tx.printed_id);
  return c;
}

}  // namespace

std::vector<std::string> expected_recover_lines(const std::vector<JournalRecord>& records) {
  std::vector<std::string> lines;
  for (const JournalRecord& r : records) {
    if (is_terminal_state(r.state)) continue;
    lines.push_back((r.state == "committing" ? "rolled-forward " : "rolled-back ") +
                    std::to_string(r.id));
  }
  return lines;
}

std::vector<JournalRecord> recover_and_check(const TempRepo& repo) {
  std::vector<JournalRecord> before = journal_list(repo);
  RunResult r = repo.reftx({"recover"});
  CHECK_MESSAGE(r.exit_code == 0, "recover exit ", r.exit_code, " signal ", r.signal, ": ", r.err);
  CHECK_MESSAGE(r.err.empty(), "recover stderr: ", r.err);
  std::vector<std::string> got = split_lines(r.out);
  std::vector<std::string> want = expected_recover_lines(before);
  CHECK_MESSAGE(got == want, "recover printed:\n", r.out, "expected:\n", script_of(want));
  return before;
}

void check_second_recover_is_noop(const TempRepo& repo) {
  RunResult again = repo.reftx({"recover"});
  CHECK_MESSAGE(again.exit_code == 0, "second recover exit ", again.exit_code, ": ", again.err);
  CHECK_MESSAGE(again.out.empty(), "second recover printed: ", again.out);
  CHECK_MESSAGE(again.err.empty(), "second recover stderr: ", again.err);
}

void check_no_locks(const TempRepo& repo) {
  std::vector<std::string> locks = repo.lock_files();
  CHECK_MESSAGE(locks.empty(), "lock files left:", join(locks));
  // Nor a witness link of a packed-refs.lock (reftx-<id>.packed-refs-witness in the git dir).
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(repo.git_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    CHECK_MESSAGE(!name.ends_with(".packed-refs-witness"), "witness link left: ", name);
  }
}

void check_fsck(const TempRepo& repo) {
  RunResult r = repo.git_result({"fsck", "--no-dangling", "--no-progress"});
  CHECK_MESSAGE(r.exit_code == 0, "git fsck exit ", r.exit_code, ": ", r.out, r.err);
  CHECK_MESSAGE(r.out + r.err == "", "git fsck output: ", r.out, r.err);
}

std::optional<JournalRecord> check_journal_agrees(const TempRepo& repo, const TxPlan& plan,
                                                  Side side) {
  std::vector<JournalRecord> records = journal_list(repo);
  for (const JournalRecord& r : records) {
    CHECK_MESSAGE(is_terminal_state(r.state), "record not terminal after recovery: ", r.raw);
  }
  std::optional<JournalRecord> rec = find_by_message(records, plan.message);
  if (!rec) {
    CHECK_MESSAGE(side == Side::old_values, "refs changed but no journal record for '",
                  plan.message, "'");
    return rec;
  }
  check_state_agrees(*rec, side);
  check_refs_journaled(*rec, plan);
  // `journal show` prints the same record as `journal list`.
  CHECK(journal_show(repo, rec->id).raw == rec->raw);
  return rec;
}

void check_printed_id_committed(const std::optional<JournalRecord>& record, Side side,
                                std::uint64_t printed_id) {
  REQUIRE_MESSAGE(record.has_value(), "printed id ", printed_id, " has no record");
  CHECK(record->id == printed_id);
  CHECK_MESSAGE(record->state == "committed", "a committed transaction was lost: ", record->raw);
  CHECK(side == Side::new_values);
}

std::vector<Checked> check_recovered_all(const TempRepo& repo,
                                         const std::vector<Interrupted>& txs) {
  std::vector<Checked> out;
  const RefMap now = repo.refs();
  RefMap expected = txs.front().plan->before;
  for (const Interrupted& tx : txs) {
    out.push_back(check_one_recovered(repo, now, tx));
    if (out.back().side == Side::new_values) apply_to(expected, *tx.plan);
  }
  if (now != expected) {
    TxPlan whole;
    whole.before = txs.front().plan->before;
    whole.after = expected;
    CHECK_MESSAGE(now == expected,
                  "refs outside the transactions changed:", describe_diff(now, whole));
  }
  check_no_locks(repo);
  check_fsck(repo);
  CHECK(repo.git({"symbolic-ref", "HEAD"}) == "refs/heads/main");
  check_second_recover_is_noop(repo);
  return out;
}

Checked check_recovered(const TempRepo& repo, const TxPlan& plan,
                        std::optional<std::uint64_t> printed_id) {
  return check_recovered_all(repo, {{&plan, printed_id}}).front();
}

}  // namespace reftx::test
