#include "core/steps.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdlib>

namespace reftx::core {
namespace {

constexpr std::array<std::string_view, 17> kNames = {
    "apply.recorded",   "apply.files-staged",    "apply.queued",         "apply.prepared",
    "apply.decided",    "apply.commit-sent",     "apply.git-committed",  "apply.file-replaced",
    "apply.synced",     "apply.committed",       "abort.git-refused",    "abort.aborted",
    "recover.claimed",  "recover.locks-removed", "recover.refs-written", "recover.files-written",
    "recover.recorded",
};
static_assert(kNames.size() == static_cast<std::size_t>(Step::recover_recorded) + 1);

}  // namespace

std::string_view step_name(Step step) {
  return kNames[static_cast<std::size_t>(step)];
}

const std::vector<std::string_view>& crash_point_names() {
  static const std::vector<std::string_view> names(kNames.begin(), kNames.end());
  return names;
}

bool crash_points_enabled() {
#if REFTX_CRASH_POINTS
  return true;
#else
  return false;
#endif
}

void reach(Step step) {
#if REFTX_CRASH_POINTS
  static const char* target = std::getenv("REFTX_CRASH_AT");
  if (target != nullptr && step_name(step) == target) {
    ::kill(::getpid(), SIGKILL);
    ::pause();
  }
#else
  (void)step;
#endif
}

}  // namespace reftx::core
