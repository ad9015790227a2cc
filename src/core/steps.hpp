// The steps of the commit protocol and of recovery after which a crash point sits
// (docs/protocol.md, docs/crash-points.md). Each durable or visible effect of a transaction is
// followed by exactly one step; record_states.hpp says which record moves end in which step.
//
// Crash points: when the library is built with them (meson option crash_points, default on)
// and the environment variable REFTX_CRASH_AT names a step, the process sends itself SIGKILL
// the first time it reaches that step. Built without them, reach() does nothing.
// Thread-safety: reach() may be called from any thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace reftx::core {

// In the order a transaction reaches them. "apply." steps are reached by an apply that
// commits, "abort." by one that aborts or compensates, "recover." by a recovery.
enum class Step : std::uint8_t {
  apply_recorded,
  apply_files_staged,
  apply_queued,
  apply_prepared,
  apply_decided,
  apply_commit_sent,
  apply_git_committed,
  apply_file_replaced,
  apply_synced,
  apply_committed,
  abort_git_refused,
  abort_aborted,
  recover_claimed,
  recover_locks_removed,
  recover_refs_written,
  recover_files_written,
  recover_recorded,
};

// "apply.recorded", ...
std::string_view step_name(Step step);

// Every step's name, in enum order: the crash points `reftx crash-points` prints.
const std::vector<std::string_view>& crash_point_names();

// Whether this build has crash points (meson option crash_points).
bool crash_points_enabled();

// Marks that `step` was just reached: the crash point.
void reach(Step step);

}  // namespace reftx::core
