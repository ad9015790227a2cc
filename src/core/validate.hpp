// Checks a transaction before anything is recorded or locked.
#pragma once

#include <vector>

#include "git/repository.hpp"
#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

// Normalizes oids to lowercase and `verify` without old to kZeroOid, then checks: ref names
// (refs/ prefix, git's rules, not symbolic), 40-hex oids, operation-specific null values, no ref
// twice, every new object present. Errors are invalid_input naming the change's line.
Status validate_changes(git::Repository& repo, std::vector<RefChange>& changes);

// The `git update-ref --stdin` line for one validated change.
std::string update_ref_line(const RefChange& change);

}  // namespace reftx::core
