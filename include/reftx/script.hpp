// Parser for the `git update-ref --stdin` style scripts accepted by `reftx apply`.
//
// Text mode: one command per line, fields separated by one space:
//   update <ref> <new> [<old>] | create <ref> <new> | delete <ref> [<old>] | verify <ref> [<old>]
//   write <path> <blob> [<old-blob>] [mode=100755|mode=100644] | remove <path> [<old-blob>]
//   set <key> <value> | unset <key>
// A ref or path field starting with '"' is a C-quoted string, as in git. For `set` the key ends
// at the first space and the value is the rest of the line, verbatim (possibly empty).
// -z mode (nul_separated): "<verb> <ref|path|key>" NUL, then each value NUL-terminated: write
// has three (blob, old, mode), remove/update/delete/verify their old, set its raw value; an
// empty optional value means "not given".
// Only syntax is checked here (verbs, arity, 40-hex oids, modes); names, paths and objects are
// validated by Store::commit().
//
// Thread-safety: pure function.
#pragma once

#include <string_view>
#include <vector>

#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx {

// Returns the changes (each with its line); errors are invalid_input with the 1-based line
// (command number in -z mode) set. An empty script is an error.
Result<Changes> parse_script(std::string_view script, bool nul_separated);

}  // namespace reftx
