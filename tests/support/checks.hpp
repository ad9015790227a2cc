// Test helper: what must hold after transactions were interrupted and recovered, checked
// through real processes (`reftx journal ... --json`, `reftx recover`, git): every transaction
// all-or-nothing, a terminal journal record that agrees with the refs, no lock file, a clean
// fsck, HEAD intact and nothing left for a second recovery.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/journal_json.hpp"
#include "support/plan.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

// Lines of `reftx recover` expected for the in-flight records in `records` (none of them may
// have a live owner and no outside writer may have touched their refs).
std::vector<std::string> expected_recover_lines(const std::vector<JournalRecord>& records);

// Runs `reftx recover` after a crash and checks that it names exactly the transactions that were
// in flight, each with the direction its journal state dictates. Returns the records seen before.
// It does not wait for a killed apply's git child: recovery must do that itself (a transaction
// of a dead owner must never be skipped as live).
std::vector<JournalRecord> recover_and_check(const TempRepo& repo);

// A second `reftx recover` exits 0 and prints nothing.
void check_second_recover_is_noop(const TempRepo& repo);

// No *.lock, packed-refs.new or packed-refs witness link is left in the git dir.
void check_no_locks(const TempRepo& repo);

// `git fsck` exits 0 and prints nothing.
void check_fsck(const TempRepo& repo);

// The journal record of `plan` agrees with the refs: committed <=> all new, aborted <=> all old,
// and it journals the real old and new values. Returns the record (nullopt: the process died
// before recording anything, so nothing may have changed).
std::optional<JournalRecord> check_journal_agrees(const TempRepo& repo, const TxPlan& plan,
                                                  Side side);

struct Checked {
  Side side = Side::mixed;
  std::optional<JournalRecord> record;
};

struct Interrupted {
  const TxPlan* plan;
  std::optional<std::uint64_t> printed_id;  // the apply exited 0 and printed this id
};

// Several transactions started from the same ref state on disjoint refs, after recovery: each
// all-or-nothing and agreeing with its record, every ref outside them unchanged, no lock files,
// fsck clean, HEAD intact, and a second recovery that has nothing to do.
std::vector<Checked> check_recovered_all(const TempRepo& repo, const std::vector<Interrupted>& txs);

Checked check_recovered(const TempRepo& repo, const TxPlan& plan,
                        std::optional<std::uint64_t> printed_id = std::nullopt);

// An apply that exited 0 and printed `printed_id`: its record is that id, committed, all new.
void check_printed_id_committed(const std::optional<JournalRecord>& record, Side side,
                                std::uint64_t printed_id);

}  // namespace reftx::test
