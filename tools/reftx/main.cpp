// reftx — crash-safe, all-or-nothing transactions for git refs.
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <iostream>

#include "cli.hpp"
#include "reftx/reftx.hpp"

namespace {

const char* kUsageText =
    "usage: reftx [-C <path>] [--journal <dir>] [--work-tree <dir>] <command> [<args>]\n"
    "\n"
    "commands:\n"
    "  apply [-m <message>] [-z]   apply the script on stdin (refs, files, state) as one\n"
    "                              transaction\n"
    "  recover                     finish or undo transactions whose process died\n"
    "  journal list [--json]       list journaled transactions\n"
    "  journal show <id> [--json]  show one transaction\n"
    "  journal check               check every page of the journal for damage\n"
    "  state get <key>             print a tool-state value\n"
    "  state list [--prefix <p>] [--json]\n"
    "                              list tool-state keys and values\n"
    "  crash-points                list the built-in crash points (REFTX_CRASH_AT)\n"
    "\n"
    "options:\n"
    "  -C <path>         run as if started in <path>\n"
    "  --journal <dir>   journal directory (default: <git-dir>/reftx)\n"
    "  --work-tree <dir> directory that file paths are relative to (default: the\n"
    "                    repository's work tree; required for a bare repository)\n"
    "  --help            show this help\n"
    "  --version         show the version\n"
    "\n"
    "exit status: 0 ok, 1 aborted/conflict, 2 invalid input or usage, 3 environment error,\n"
    "4 corrupt journal. See README.md.\n";

void write_str(const char* s) {
  ssize_t ignored = ::write(STDERR_FILENO, s, std::strlen(s));
  (void)ignored;
}

// SIGBUS/SIGSEGV: LMDB reads its map without bounds checks, so a damaged interior page can make
// it fault: inside its map (a page beyond the end of the file) or anywhere (an offset computed
// from garbage). A fault whose address lies in a journal's map (reftx::journal_mapped_at), or
// that happens while LMDB works on a journal (reftx::journal_in_use: inside a journal
// transaction), is reported as a corrupt journal, exit 4. The trade-off: a bug of reftx's own
// code inside a journal transaction would be reported so too. Any other fault is a real crash
// and kills the process with its signal, as without the handler. Async-signal-safe: write(2),
// sigaction(2), raise(3) and _exit(2) only.
void on_fault(int sig, siginfo_t* info, void*) {
  const char* dir = info->si_code > 0 ? reftx::journal_mapped_at(info->si_addr) : nullptr;
  if (dir == nullptr && info->si_code > 0) dir = reftx::journal_in_use();
  if (dir == nullptr) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);  // delivered when the handler returns; the fault also recurs
    return;
  }
  write_str("reftx: journal '");
  write_str(dir);
  write_str(sig == SIGBUS ? "' is corrupt (SIGBUS: a page of data.mdb is missing or damaged; "
                          : "' is corrupt (SIGSEGV: a page of data.mdb is damaged; ");
  write_str("run 'reftx journal check')\n");
  ::_exit(reftx::cli::kCorrupt);
}

// SIGABRT: LMDB's assertions (mdb_assert_fail) abort on some damaged pages. An abort while
// LMDB works on a journal (reftx::journal_in_use) is reported as a corrupt journal; any other
// abort kills the process as without the handler.
void on_abort(int sig) {
  const char* dir = reftx::journal_in_use();
  if (dir == nullptr) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);
    return;
  }
  write_str("reftx: journal '");
  write_str(dir);
  write_str(
      "' is corrupt (LMDB failed an assertion on a damaged page; run 'reftx journal "
      "check')\n");
  ::_exit(reftx::cli::kCorrupt);
}

void install_fault_handlers() {
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, nullptr);
  ::sigaction(SIGSEGV, &sa, nullptr);
  struct sigaction ab {};
  ab.sa_handler = on_abort;
  ab.sa_flags = SA_ONSTACK;
  sigemptyset(&ab.sa_mask);
  ::sigaction(SIGABRT, &ab, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace reftx::cli;
  install_fault_handlers();
  Globals globals;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsageText;
      return kOk;
    }
    if (arg == "--version") {
      std::cout << "reftx version " << reftx::version() << "\n";
      return kOk;
    }
    if (arg == "-C" || arg == "--journal" || arg == "--work-tree") {
      if (i + 1 >= argc) {
        std::cerr << "reftx: option '" << arg << "' requires a value\n" << kUsageText;
        return kUsage;
      }
      std::string value = argv[++i];
      if (arg == "--journal") {
        globals.journal_dir = value;
      } else if (arg == "--work-tree") {
        globals.work_tree = value;
      } else if (globals.directory_given && !value.empty() && value[0] != '/') {
        globals.directory += "/" + value;  // like git: successive -C are relative
      } else {
        globals.directory = value;
        globals.directory_given = true;
      }
      continue;
    }
    if (arg.rfind("--journal=", 0) == 0) {
      globals.journal_dir = arg.substr(10);
      continue;
    }
    if (arg.rfind("--work-tree=", 0) == 0) {
      globals.work_tree = arg.substr(12);
      continue;
    }
    if (arg == "--") {
      ++i;
      break;
    }
    if (!arg.empty() && arg[0] == '-') {
      std::cerr << "reftx: unknown option '" << arg << "'\n" << kUsageText;
      return kUsage;
    }
    break;
  }
  if (i >= argc) {
    std::cerr << kUsageText;
    return kUsage;
  }
  std::string command = argv[i];
  std::vector<std::string> args(argv + i + 1, argv + argc);
  if (globals.directory.empty()) {
    std::cerr << "reftx: empty path given to -C\n";
    return kUsage;
  }
  try {
    if (command == "apply") return cmd_apply(globals, args);
    if (command == "recover") return cmd_recover(globals, args);
    if (command == "journal") return cmd_journal(globals, args);
    if (command == "state") return cmd_state(globals, args);
    if (command == "crash-points") return cmd_crash_points(globals, args);
    if (command == "help") {
      std::cout << kUsageText;
      return kOk;
    }
  } catch (const std::exception& e) {
    std::cerr << "reftx: " << e.what() << "\n";
    return kEnvironment;
  }
  std::cerr << "reftx: unknown command '" << command << "'\n" << kUsageText;
  return kUsage;
}
