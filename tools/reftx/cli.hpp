// The `reftx` command: shared declarations of its subcommands. Built on the public API only.
#pragma once

#include <string>
#include <vector>

#include "reftx/error.hpp"
#include "reftx/store.hpp"

namespace reftx::cli {

// Documented exit codes (README.md, "Exit status").
enum ExitCode : int {
  kOk = 0,
  kConflict = 1,     // apply: aborted, nothing applied; recover: a transaction is blocked;
                     // journal show: no such id
  kUsage = 2,        // invalid input or usage; nothing changed
  kEnvironment = 3,  // not a repository, I/O, git or LMDB failure
  kCorrupt = 4,      // the journal does not decode
};

struct Globals {
  std::string directory = ".";   // -C
  std::string journal_dir;       // --journal
  std::string work_tree;         // --work-tree
  bool directory_given = false;  // -C was used: every command checks it names a repository
};

// Prints "reftx: <message>" to stderr and returns the exit code for the error's kind.
int report(const Error& error);
int exit_code_for(ErrorKind kind);

int cmd_apply(const Globals& globals, const std::vector<std::string>& args);
int cmd_recover(const Globals& globals, const std::vector<std::string>& args);
int cmd_journal(const Globals& globals, const std::vector<std::string>& args);
int cmd_state(const Globals& globals, const std::vector<std::string>& args);
int cmd_crash_points(const Globals& globals, const std::vector<std::string>& args);

// `s` unchanged if it has no byte that needs quoting (tab, newline, backslash, double quote,
// control characters, leading double quote), else git-style C-quoted in double quotes.
std::string quote_c(const std::string& s);

// Human-readable record rendering for `journal list` / `journal show`.
std::string record_line(const TxRecord& record);
std::string record_details(const TxRecord& record);

}  // namespace reftx::cli
