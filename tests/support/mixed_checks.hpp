// Test helper: what must hold after a transaction mixing refs, work-tree files and tool state
// was interrupted and recovered: the whole repository (every ref, file, directory and key) is
// the plan's before or after, in agreement with the journal, with no temp file, `git status` as
// expected, and a second recovery that changes nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/checks.hpp"
#include "support/mixed_plan.hpp"
#include "support/snapshot.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

void check_no_temp_files(const WorkTree& tree);

// What `git status --porcelain --untracked-files=all` prints for work tree `now` when HEAD and
// the index both hold exactly the files of `head` (paths need no quoting): changed tracked
// files in path order, then untracked files in path order.
std::vector<std::string> expected_status(const WorkTree& head, const WorkTree& now);

void check_status(const TempRepo& repo, const WorkTree& head, const WorkTree& want);

// The record's refs: the real old values and the planned new ones.
void check_record_refs(const JournalRecord& rec, const TxPlan& refs);

// The record's files and keys: the work tree, paths and keys in script order, the real old
// contents, modes and values, and the planned new ones (the new mode once committed: it is
// resolved from the old one only when the files are staged).
void check_record_files_and_keys(const TempRepo& repo, const JournalRecord& rec,
                                 const MixedPlan& plan);

// A `reftx recover` right after recovery prints nothing and changes nothing: not a ref, file,
// directory, key or journal record.
void check_recover_changes_nothing(const TempRepo& repo, const RepoSnapshot& now);

struct MixedChecked {
  Side side = Side::mixed;
  std::optional<JournalRecord> record;
};

// Everything that must hold once a mixed transaction was interrupted and recovered (nothing
// else in flight, no outside writer): the whole repository is the plan's before or after, the
// record is terminal and agrees (committed <=> all new, aborted <=> all old) with the real old
// and the new values, no temp file, the created directories gone if rolled back, `git status`
// exactly as expected (`head`: the files of HEAD and the index), no lock file, HEAD intact,
// and a second recovery that changes nothing. `printed_id`: the apply exited 0 with this id.
MixedChecked check_mixed_recovered(const TempRepo& repo, const MixedPlan& plan,
                                   const WorkTree& head,
                                   std::optional<std::uint64_t> printed_id = std::nullopt,
                                   bool fsck = true);

// How a crashed transaction gets recovered: `reftx recover`, the next `reftx apply` (of an
// unrelated transaction), or a Store opened by the library.
enum class Recovery { command, next_apply, store_open };

std::string to_string(Recovery r);

// Recovers with `how`. The next apply sets the key "recovery/by" to the plan's message, a
// change outside the plan that both of its outcomes then include.
void recover_via(const TempRepo& repo, Recovery how, MixedPlan& plan);

}  // namespace reftx::test
