// Test helper: killing processes under test and waiting for them and their owners to be gone,
// for the crash and random-kill suites.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "support/process.hpp"
#include "support/temp_repo.hpp"

namespace reftx::test {

// Whether the process has exited. Does not reap it, so its pid cannot be reused meanwhile.
bool exited(pid_t pid);

// Waits for the child (started with new_process_group) to die, then SIGKILLs its whole process
// group, which kills its git child if that has not finished or aborted by itself yet. Waits
// without reaping, so that the group id cannot be reused before the kill.
void kill_group_once_dead(const Child& child);

// Waits until no owner of the journal and no git child of one is alive (<name>.owner and
// <name>.child under <journal>/owners can be flocked). A reftx killed by SIGKILL may leave its
// git child running for a moment. Recovery waits for that child by itself; tests call this only
// where they need a quiescent repository (e.g. before an outside writer touches a ref).
void wait_for_dead_owners(const TempRepo& repo);

// Number of *.lock / packed-refs.new files under the git dir. Unlike TempRepo::lock_files() it
// tolerates files vanishing during the scan (a git child may still be running).
int count_lock_files(const TempRepo& repo);

// What happened to the processes a randomized test killed.
struct KillCounts {
  int iterations = 0;
  int killed = 0;
  int finished = 0;  // exited before the kill landed
};

// SIGKILLs the child (or its process group) and collects it. The child may have exited
// already: it is not reaped before wait(), so its pid (and group id) cannot have been reused.
// Counts the iteration as killed or as finished first; one that finished first must have
// succeeded.
RunResult kill_and_wait(Child& child, bool group, KillCounts& counts);

// The share of a randomized test's `kills` that `landed` where it aims them (e.g. inside a
// transaction: its record was left non-terminal), printed as "[suite] what: landed/kills"; CHECKs
// that it is at least `min_percent` % once there are enough kills (10) for a share to mean
// something.
void check_share(const char* suite, const char* what, int landed, int kills, int min_percent);

// Seed of a randomized test: REFTX_KILL_SEED if set, else random; printed so a failure can be
// replayed. `suite` prefixes the line ("random_kill", "files_kill").
std::uint64_t seed_for(const char* suite, const char* test_name);

// Environment-variable override of an iteration count (a positive integer).
int env_count(const char* name, int fallback);

}  // namespace reftx::test
