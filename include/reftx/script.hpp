// Parser for the `git update-ref --stdin` style scripts accepted by `reftx apply`.
//
// Text mode: one command per line, fields separated by one space:
//   update <ref> <new> [<old>] | create <ref> <new> | delete <ref> [<old>] | verify <ref> [<old>]
// A field starting with '"' is a C-quoted string, as in git. -z mode (nul_separated):
//   "<verb> <ref>" NUL, then each value NUL-terminated; an empty <old> means "not given".
// Only syntax is checked here (verbs, arity, 40-hex oids); names and objects are validated by
// Transaction::commit().
//
// Thread-safety: pure function.
#pragma once

#include <string_view>
#include <vector>

#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx {

// Returns the changes in script order; errors are invalid_input with the 1-based line (command
// number in -z mode) set. An empty script is an error.
Result<std::vector<RefChange>> parse_script(std::string_view script, bool nul_separated);

}  // namespace reftx
