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
// Only syntax is checked here (verbs, arity, 40-hex oids, modes, NUL bytes, the sizes below);
// names, paths and objects are validated by Store::commit().
//
// Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "reftx/error.hpp"
#include "reftx/types.hpp"

namespace reftx {

// Sizes refused with invalid_input before anything is recorded (README, "Limits"). Paths and ref
// names are limited by the file system instead (Store::commit checks them: PATH_MAX, NAME_MAX).
//
// A state value: the journal copies it into every write of its record (and keeps the old one).
inline constexpr std::size_t kMaxValueBytes = std::size_t{1} << 20;
// A journal message (Batch, `reftx apply -m`): fits one command-line argument (Linux allows
// 128 KiB) with room to spare.
inline constexpr std::size_t kMaxMessageBytes = std::size_t{64} << 10;
// A script line (-z: a command, its fields and the NULs between them, not the last NUL): the
// longest legal one, "set", a space, a 511-byte key, a space and a kMaxValueBytes value.
inline constexpr std::size_t kMaxLineBytes = 4 + 511 + 1 + kMaxValueBytes;
// A whole script: what `reftx apply` reads from stdin at most.
inline constexpr std::size_t kMaxScriptBytes = std::size_t{64} << 20;
// Commands in one script: each costs a few hundred bytes of memory (parsed, validated,
// journaled) whatever its size.
inline constexpr int kMaxCommands = 100'000;

// Returns the changes (each with its line); errors are invalid_input with the 1-based line
// (command number in -z mode) set. An empty script is an error, and so is a script, line or
// value over the limits above (a script over kMaxScriptBytes is refused at the line that
// crosses it: a caller may pass only its first kMaxScriptBytes + 1 bytes).
Result<Changes> parse_script(std::string_view script, bool nul_separated);

}  // namespace reftx
