#include "git/git_errors.hpp"

#include <array>
#include <utility>

namespace reftx::git {
namespace {

// Markers checked in order: the lock messages also contain "cannot lock ref", so they come
// first. Every marker is git 2.39's own LC_ALL=C wording (refs/files-backend.c, refs.c).
constexpr std::array<std::pair<std::string_view, GitCause>, 11> kMarkers = {{
    {"Unable to create", GitCause::locked},
    {"File exists", GitCause::locked},
    {"ref updates aborted by hook", GitCause::hook_refused},
    {"exists; cannot create", GitCause::name_clash},
    {"there are still logs under", GitCause::name_clash},
    {"cannot process", GitCause::name_clash},
    {"but expected", GitCause::stale_old_value},
    {"is at ", GitCause::stale_old_value},
    {"reference already exists", GitCause::stale_old_value},
    {"unable to resolve reference", GitCause::stale_old_value},
    {"cannot lock ref", GitCause::stale_old_value},
}};

}  // namespace

const char* to_string(GitCause cause) {
  switch (cause) {
    case GitCause::none:
      return "none";
    case GitCause::stale_old_value:
      return "stale-old-value";
    case GitCause::locked:
      return "locked";
    case GitCause::name_clash:
      return "name-clash";
    case GitCause::hook_refused:
      return "hook-refused";
    case GitCause::died:
      return "died";
    case GitCause::other:
      return "other";
  }
  return "other";
}

GitCause classify_refusal(std::string_view stderr_text) {
  for (const auto& [marker, cause] : kMarkers) {
    if (stderr_text.find(marker) != std::string_view::npos) return cause;
  }
  // "cannot update the ref 'x': ..." without a known reason: git refused, reason unknown.
  if (stderr_text.find("cannot update the ref") != std::string_view::npos) {
    return GitCause::name_clash;
  }
  return GitCause::other;
}

ErrorKind kind_of(GitCause cause) {
  switch (cause) {
    case GitCause::stale_old_value:
    case GitCause::name_clash:
    case GitCause::hook_refused:
      return ErrorKind::conflict;
    case GitCause::locked:
      return ErrorKind::locked;
    case GitCause::none:
    case GitCause::died:
    case GitCause::other:
      return ErrorKind::environment;
  }
  return ErrorKind::environment;
}

bool is_refusal(GitCause cause) {
  return kind_of(cause) != ErrorKind::environment;
}

}  // namespace reftx::git
