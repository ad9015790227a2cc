// Counts the sync system calls a benchmark variant really makes, by running it under strace.
//
// The traced program brackets the transactions to count with mark_probe_begin() and
// mark_probe_end(); calls made by it and by every descendant (strace -f) between the two marks
// are counted. Setup and teardown outside the marks are not.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace reftx_bench {

struct SyncCounts {
  long fsync = 0;
  long fdatasync = 0;
  long sync_file_range = 0;
  long other = 0;         // msync, syncfs, sync
  long dsync_writes = 0;  // write/pwrite calls on descriptors opened with O_DSYNC or O_SYNC

  // Calls of the fsync family: fsync + fdatasync + sync_file_range + other.
  long sync_calls() const { return fsync + fdatasync + sync_file_range + other; }
};

// Runs `argv` under `strace -f` and returns the counts between the marks. nullopt when
// `strace_path` is empty. Throws std::runtime_error if strace or the program fails, or if the
// marks are missing from the trace.
std::optional<SyncCounts> probe_syncs(const std::string& strace_path,
                                      const std::vector<std::string>& argv,
                                      const std::string& scratch_dir);

// Marks for the traced program: each issues one access(2) on a path strace shows.
void mark_probe_begin();
void mark_probe_end();

}  // namespace reftx_bench
