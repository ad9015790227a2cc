// What a `git update-ref --stdin` failure means, mapped in one place.
//
// git (run with LC_ALL=C) says why it refused on stderr; its exit status says whether it
// refused at all (128, after releasing every lock it held) or was killed (anything else).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "reftx/error.hpp"

namespace reftx::git {

enum class GitCause {
  none,             // no failure
  stale_old_value,  // an old value did not match ("is at X but expected Y", "already exists")
  locked,           // another writer holds a lock ("Unable to create '....lock': File exists")
  name_clash,       // refs/x vs refs/x/y ("exists; cannot create", "there are still logs under")
  hook_refused,     // the reference-transaction hook refused ("ref updates aborted by hook")
  died,             // git did not exit by itself: its locks may be left behind
  other,            // any other failure (cannot run, I/O, an unknown message)
};

// "stale-old-value", "locked", ...
const char* to_string(GitCause cause);

// The cause named by a refusal's stderr text (exit status 128). Never `died` or `none`.
GitCause classify_refusal(std::string_view stderr_text);

// The public kind of a failure with this cause: conflict (stale, name clash, hook), locked,
// or environment (died, other).
ErrorKind kind_of(GitCause cause);

// True for causes after which git has released its locks and exited by itself: a refusal.
bool is_refusal(GitCause cause);

}  // namespace reftx::git
