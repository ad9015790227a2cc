#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <string>

#include "core/crash.hpp"
#include "reftx/crash_points.hpp"

namespace reftx {

const std::vector<std::string_view>& crash_point_names() {
  // Keep in step with docs/crash-points.md (a test compares them).
  static const std::vector<std::string_view> names = {
      "apply.recorded",         // pending record durable; git not asked anything yet
      "apply.files-staged",     // old file contents saved, new ones in fsynced temp files
      "apply.queued",           // start + updates sent to git, prepare not sent
      "apply.prepared",         // git holds every lock; decision not durable
      "apply.decided",          // committing record durable; commit not sent
      "apply.commit-sent",      // commit written to git; its reply not read
      "apply.git-committed",    // git said commit: ok; files not replaced yet
      "apply.file-replaced",    // the first file replaced (or removed); others still old
      "apply.synced",           // refs and files durable; record still says committing
      "apply.committed",        // record says committed; id not printed
      "abort.git-refused",      // git refused prepare (or commit failed and the record says
                                // rolling_back); git holds no lock; record not terminal
      "abort.aborted",          // aborted record written; error not reported
      "recover.claimed",        // recovery holds the recovery lock, owner found dead
      "recover.locks-removed",  // stale lock files of the dead transaction removed
      "recover.refs-written",   // refs rolled forward/back; files not yet, record not terminal
      "recover.files-written",  // files rolled forward/back too; record not terminal
      "recover.recorded",       // terminal record written; owner lock file not removed
  };
  return names;
}

namespace core {

void crash_point(std::string_view point) {
  assert(std::find(crash_point_names().begin(), crash_point_names().end(), point) !=
         crash_point_names().end());
  static const char* target = std::getenv("REFTX_CRASH_AT");
  if (target != nullptr && point == target) {
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
}

}  // namespace core
}  // namespace reftx
