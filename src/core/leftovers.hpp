// Leftovers of finished transactions after a reboot (docs/protocol.md, "After a reboot").
//
// Every record becomes terminal only after the directories its git runs and its file steps
// removed files from are fsynced, so a power loss cannot bring a lock or temp file back next to
// a terminal record on a file system that honours fsync. This is the fallback for one that did
// not: the first recovery after a reboot (a boot id the journal has not seen) looks at the
// terminal records of the previous boot, newest first and at most kSweptRecords of them, and
// removes the files each provably owns: its `.reftx-<id>-<n>.tmp` temps (the name carries its
// id) and, older than this boot (so no live process holds them) and written after the record
// was created, its refs' `.lock` files holding one of its values or nothing, `HEAD.lock` when
// HEAD points to one of its refs, and `packed-refs.lock`/`.new` when it creates or deletes a
// ref. Each directory something was removed from is fsynced. Then the boot is recorded.
// REQUIRES: the recovery lock is held exclusively.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "git/repository.hpp"
#include "journal/journal.hpp"
#include "reftx/error.hpp"

namespace reftx::core {

inline constexpr std::size_t kSweptRecords = 1024;

struct RebootFacts {
  std::string boot_id;        // this boot's (/proc/sys/kernel/random/boot_id); "" if unknown
  std::int64_t boot_time_ns;  // when it started, Unix time
};

// This boot, read from the kernel.
RebootFacts current_boot();

// What one sweep removed (paths), for the caller's report and the tests.
struct SweepResult {
  bool swept = false;  // a new boot was seen and the previous one's records looked at
  std::vector<std::string> removed;
};

Result<SweepResult> sweep_after_reboot(journal::Journal& journal, git::Repository& repo,
                                       bool durable, const RebootFacts& boot);

}  // namespace reftx::core
